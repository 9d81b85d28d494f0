package io.nbdnetty.client;

/**
 * The connection ended before the request completed: the server closed it, the handle was closed, or a soft
 * disconnect was under way.
 */
public class NbdConnectionClosedException extends NbdException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message what ended the connection
     */
    public NbdConnectionClosedException(String message) {
        super(message);
    }

    /**
     * Creates an exception with a cause.
     *
     * @param message what ended the connection
     * @param cause the underlying cause
     */
    public NbdConnectionClosedException(String message, Throwable cause) {
        super(message, cause);
    }
}
