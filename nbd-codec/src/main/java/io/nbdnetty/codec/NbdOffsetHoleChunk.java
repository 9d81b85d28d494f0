package io.nbdnetty.codec;

/** {@code NBD_REPLY_TYPE_OFFSET_HOLE}: {@code holeSize} bytes at {@code offset} read as zeroes (payload 12 bytes). */
public final class NbdOffsetHoleChunk extends NbdReplyChunk {
    private final long offset;
    private final int holeSize;

    /**
     * Creates the chunk.
     *
     * @param flags the reply flags
     * @param cookie the cookie
     * @param headerOffset the extended header's offset field, 0 in compact mode
     * @param offset the absolute offset of the hole
     * @param holeSize the hole's size in bytes, unsigned 32 bits
     */
    public NbdOffsetHoleChunk(int flags, long cookie, long headerOffset, long offset, int holeSize) {
        super(flags, NbdReplyType.OFFSET_HOLE, cookie, headerOffset);
        this.offset = offset;
        this.holeSize = holeSize;
    }

    /**
     * Returns the absolute offset of the hole.
     *
     * @return the offset
     */
    public long offset() {
        return offset;
    }

    /**
     * Returns the size of the hole (unsigned; use {@link Integer#toUnsignedLong}).
     *
     * @return the size
     */
    public int holeSize() {
        return holeSize;
    }

    @Override
    public long payloadLength() {
        return 12;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NbdOffsetHoleChunk c && c.flags() == flags() && c.cookie() == cookie()
                && c.headerOffset() == headerOffset() && c.offset == offset && c.holeSize == holeSize;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(cookie()) * 31 + Long.hashCode(offset);
    }

    @Override
    public String toString() {
        return "NbdOffsetHoleChunk[" + header() + ", offset=" + Long.toUnsignedString(offset) + ", size="
                + Integer.toUnsignedString(holeSize) + "]";
    }
}
