package io.nbdnetty.codec;

/** A length field was larger than the configured limit, or impossible for the message it belongs to. */
public final class NbdBadLengthException extends NbdDecoderException {
    private static final long serialVersionUID = 1L;

    /** The length, part of the serial form. */
    private final long length;

    /**
     * Creates an exception.
     *
     * @param message what was wrong, naming the field and the limit
     * @param length the length received (unsigned)
     * @param streamOffset where in the stream
     */
    public NbdBadLengthException(String message, long length, long streamOffset) {
        super(message, streamOffset);
        this.length = length;
    }

    /**
     * Returns the length that was received.
     *
     * @return the length
     */
    public long length() {
        return length;
    }
}
