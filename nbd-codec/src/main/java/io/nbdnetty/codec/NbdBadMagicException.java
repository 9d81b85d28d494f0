package io.nbdnetty.codec;

/** A magic number was not the one the protocol requires at that point. */
public final class NbdBadMagicException extends NbdDecoderException {
    private static final long serialVersionUID = 1L;

    /** The magic, part of the serial form. */
    private final long magic;

    /**
     * Creates an exception.
     *
     * @param where what was being read, e.g. "reply header"
     * @param magic the magic number received
     * @param expected what was expected, for the message
     * @param streamOffset where in the stream
     */
    public NbdBadMagicException(String where, long magic, String expected, long streamOffset) {
        super("bad magic 0x" + Long.toHexString(magic) + " in " + where + ", expected " + expected, streamOffset);
        this.magic = magic;
    }

    /**
     * Returns the magic number that was received.
     *
     * @return the magic
     */
    public long magic() {
        return magic;
    }
}
