package io.nbdnetty.codec;

/** The connection ended in the middle of a message. */
public final class NbdTruncatedMessageException extends NbdDecoderException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param what the message that was cut short
     * @param received how many of its bytes had arrived
     * @param streamOffset where in the stream the message began
     */
    public NbdTruncatedMessageException(String what, int received, long streamOffset) {
        super("connection closed in the middle of " + what + " after " + received + " byte(s)", streamOffset);
    }
}
