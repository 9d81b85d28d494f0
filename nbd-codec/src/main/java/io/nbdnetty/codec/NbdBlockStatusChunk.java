package io.nbdnetty.codec;

import java.util.Arrays;

/**
 * A block status chunk: {@code NBD_REPLY_TYPE_BLOCK_STATUS} (32-bit extent lengths and flags) or {@code
 * NBD_REPLY_TYPE_BLOCK_STATUS_EXT} (64-bit, with a descriptor count), for one metadata context id.
 *
 * <p>Extents are kept in one primitive array of length, status pairs so that large replies cost one allocation: as
 * decoded, the compact form in an {@code int[]} (8 bytes per descriptor, as on the wire), the extended form in a
 * {@code long[]} (16).
 */
public final class NbdBlockStatusChunk extends NbdReplyChunk {
    private final int contextId;
    private final long[] extents;
    /** The compact form's 32-bit fields as decoded (read as unsigned), or null. */
    private final int[] compact;

    /**
     * Creates the chunk.
     *
     * @param flags the reply flags
     * @param cookie the cookie
     * @param headerOffset the extended header's offset field, 0 in compact mode
     * @param extended true for {@code BLOCK_STATUS_EXT} (64-bit fields), false for {@code BLOCK_STATUS}
     * @param contextId the metadata context id
     * @param extents length and status pairs, one pair per descriptor (the array is copied)
     */
    public NbdBlockStatusChunk(int flags, long cookie, long headerOffset, boolean extended, int contextId,
            long[] extents) {
        this(flags, cookie, headerOffset, extended, contextId, extents.clone(), false);
    }

    NbdBlockStatusChunk(int flags, long cookie, long headerOffset, boolean extended, int contextId, long[] extents,
            boolean owned) {
        super(flags, extended ? NbdReplyType.BLOCK_STATUS_EXT : NbdReplyType.BLOCK_STATUS, cookie, headerOffset);
        if (extents.length % 2 != 0) {
            throw new IllegalArgumentException("extents must be length/status pairs: " + extents.length);
        }
        if (!extended) {
            for (long v : extents) {
                NbdCodecUtil.checkUnsigned32(v, "32-bit extent field");
            }
        }
        this.contextId = contextId;
        this.extents = extents;
        this.compact = null;
    }

    /** The compact form as decoded: 32-bit length, status pairs (unsigned), kept without a copy. */
    NbdBlockStatusChunk(int flags, long cookie, long headerOffset, int contextId, int[] compact) {
        super(flags, NbdReplyType.BLOCK_STATUS, cookie, headerOffset);
        if (compact.length % 2 != 0) {
            throw new IllegalArgumentException("extents must be length/status pairs: " + compact.length);
        }
        this.contextId = contextId;
        this.extents = null;
        this.compact = compact;
    }

    /**
     * Whether this is the 64-bit form ({@code BLOCK_STATUS_EXT}).
     *
     * @return true for the extended form
     */
    public boolean isExtended() {
        return type().equals(NbdReplyType.BLOCK_STATUS_EXT);
    }

    /**
     * Returns the metadata context id.
     *
     * @return the id
     */
    public int contextId() {
        return contextId;
    }

    /**
     * Returns the number of descriptors.
     *
     * @return the count
     */
    public int extentCount() {
        return (compact != null ? compact.length : extents.length) / 2;
    }

    /**
     * Returns the length of descriptor {@code i} (unsigned).
     *
     * @param i the index
     * @return the length in bytes
     */
    public long extentLength(int i) {
        return compact != null ? Integer.toUnsignedLong(compact[2 * i]) : extents[2 * i];
    }

    /**
     * Returns the status flags of descriptor {@code i}.
     *
     * @param i the index
     * @return the flags (32 bits in the compact form)
     */
    public long extentStatus(int i) {
        return compact != null ? Integer.toUnsignedLong(compact[2 * i + 1]) : extents[2 * i + 1];
    }

    /**
     * Returns a copy of the length, status pairs.
     *
     * @return the pairs
     */
    public long[] extents() {
        if (compact == null) {
            return extents.clone();
        }
        long[] pairs = new long[compact.length];
        for (int i = 0; i < pairs.length; i++) {
            pairs[i] = Integer.toUnsignedLong(compact[i]);
        }
        return pairs;
    }

    @Override
    public long payloadLength() {
        return isExtended() ? 8L + 16L * extentCount() : 4L + 8L * extentCount();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NbdBlockStatusChunk c && c.flags() == flags() && c.type().equals(type())
                && c.cookie() == cookie() && c.headerOffset() == headerOffset() && c.contextId == contextId
                && sameExtents(c);
    }

    private boolean sameExtents(NbdBlockStatusChunk c) {
        if (compact != null && c.compact != null) {
            return Arrays.equals(compact, c.compact);
        }
        if (extents != null && c.extents != null) {
            return Arrays.equals(extents, c.extents);
        }
        int n = extentCount();
        if (n != c.extentCount()) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            if (extentLength(i) != c.extentLength(i) || extentStatus(i) != c.extentStatus(i)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        int h = Long.hashCode(cookie());
        for (int i = 0; i < extentCount(); i++) {
            h = h * 31 + Long.hashCode(extentLength(i)) * 17 + Long.hashCode(extentStatus(i));
        }
        return h;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("NbdBlockStatusChunk[").append(header()).append(", context=")
                .append(Integer.toUnsignedString(contextId)).append(", extents=");
        int shown = Math.min(extentCount(), 8);
        for (int i = 0; i < shown; i++) {
            sb.append(i == 0 ? "" : " ").append(Long.toUnsignedString(extentLength(i))).append(':')
                    .append(Long.toHexString(extentStatus(i)));
        }
        if (shown < extentCount()) {
            sb.append(" ... (").append(extentCount()).append(" in all)");
        }
        return sb.append(']').toString();
    }
}
