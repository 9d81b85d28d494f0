package io.nbdnetty.client;

/** The handshake did not finish within the configured time. */
public class NbdTimeoutException extends NbdException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message what timed out
     */
    public NbdTimeoutException(String message) {
        super(message);
    }
}
