package io.nbdnetty.client;

/**
 * The connection could not be made: dialling a host or a Unix socket failed before any byte was exchanged with the
 * server (no such socket, connection refused, unknown host, connect timeout, a {@code [ CMD ]} server that could not
 * be started). The message says what was dialled and why it failed in the operating system's words ({@code "cannot
 * connect to /run/nbd.sock: No such file or directory"}); the cause keeps the original failure.
 *
 * <p>A subclass of {@link NbdConnectionClosedException} so that code which treats any lost connection alike (a retry
 * loop, say) keeps working; catch this type first to tell "never connected" from "connected, then lost".
 */
public class NbdConnectException extends NbdConnectionClosedException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message what was dialled and why it failed
     * @param cause the underlying failure, or null
     */
    public NbdConnectException(String message, Throwable cause) {
        super(message, cause);
    }
}
