package io.nbdnetty.codec;

import java.util.Objects;

/**
 * One chunk of a structured reply (20-byte header) or an extended reply (32-byte header): flags, type, cookie, under
 * extended headers the request's offset, and a typed payload. The chunk with {@link NbdReplyFlags#DONE} ends the
 * reply.
 */
public abstract sealed class NbdReplyChunk implements NbdReply permits NbdNoneChunk, NbdOffsetDataChunk,
        NbdOffsetHoleChunk, NbdBlockStatusChunk, NbdErrorChunk {
    private final int flags;
    private final NbdReplyType type;
    private final long cookie;
    private final long headerOffset;

    /**
     * Creates the header part of a chunk.
     *
     * @param flags the {@link NbdReplyFlags}, 16 bits
     * @param type the chunk type
     * @param cookie the cookie
     * @param headerOffset the offset field of an extended header (must echo the request's offset); 0 in compact mode
     */
    protected NbdReplyChunk(int flags, NbdReplyType type, long cookie, long headerOffset) {
        NbdCodecUtil.checkUnsigned16(flags, "flags");
        this.flags = flags;
        this.type = Objects.requireNonNull(type, "type");
        this.cookie = cookie;
        this.headerOffset = headerOffset;
    }

    /**
     * Returns the reply flags.
     *
     * @return the {@link NbdReplyFlags}
     */
    public final int flags() {
        return flags;
    }

    /**
     * Whether this is the last chunk of its reply.
     *
     * @return true if {@link NbdReplyFlags#DONE} is set
     */
    public final boolean isDone() {
        return (flags & NbdReplyFlags.DONE) != 0;
    }

    /**
     * Returns the chunk type.
     *
     * @return the type
     */
    public final NbdReplyType type() {
        return type;
    }

    @Override
    public final long cookie() {
        return cookie;
    }

    /**
     * Returns the extended header's offset field (0 for a compact structured chunk).
     *
     * @return the offset the server echoed
     */
    public final long headerOffset() {
        return headerOffset;
    }

    /**
     * Returns the payload length this chunk has on the wire.
     *
     * @return the payload length in bytes
     */
    public abstract long payloadLength();

    /** Renders the header fields for {@code toString}. */
    final String header() {
        return type + ", flags=" + NbdReplyFlags.toString(flags) + ", cookie=" + Long.toUnsignedString(cookie)
                + (headerOffset != 0 ? ", headerOffset=" + Long.toUnsignedString(headerOffset) : "");
    }
}
