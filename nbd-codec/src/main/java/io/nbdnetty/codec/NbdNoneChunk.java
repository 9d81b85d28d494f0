package io.nbdnetty.codec;

/** {@code NBD_REPLY_TYPE_NONE}: no payload; the last chunk of a reply that needs no other data. */
public final class NbdNoneChunk extends NbdReplyChunk {
    /**
     * Creates the chunk.
     *
     * @param flags the reply flags (the spec requires DONE)
     * @param cookie the cookie
     * @param headerOffset the extended header's offset field, 0 in compact mode
     */
    public NbdNoneChunk(int flags, long cookie, long headerOffset) {
        super(flags, NbdReplyType.NONE, cookie, headerOffset);
    }

    @Override
    public long payloadLength() {
        return 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NbdNoneChunk c && c.flags() == flags() && c.cookie() == cookie()
                && c.headerOffset() == headerOffset();
    }

    @Override
    public int hashCode() {
        return Long.hashCode(cookie());
    }

    @Override
    public String toString() {
        return "NbdNoneChunk[" + header() + "]";
    }
}
