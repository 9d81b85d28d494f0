package io.nbdnetty.client;

/**
 * The server sent something the protocol does not allow: malformed bytes (the cause is then the codec's {@code
 * NbdDecoderException}), or a well-formed message that breaks a rule the spec says a server MUST keep (a chunk outside
 * the requested range, a reply for an unknown cookie, a context that was not negotiated, ...). The connection is
 * closed and the handle is dead.
 */
public class NbdProtocolException extends NbdException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message the rule that was broken
     */
    public NbdProtocolException(String message) {
        super(message);
    }

    /**
     * Creates an exception with a cause.
     *
     * @param message the rule that was broken
     * @param cause the underlying cause
     */
    public NbdProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
