package io.nbdnetty.client;

/**
 * Something did not finish within its configured time: the handshake ({@link NbdClientConfig#handshakeTimeout()}; the
 * handle is then dead) or one request ({@link NbdClientConfig#requestTimeout()}; only that request's future fails, the
 * request stays in flight until its late reply, which is dropped, and the connection carries on), or the server sent
 * nothing for {@link NbdClientConfig#stallTimeout()} while requests waited (the handle is then dead).
 */
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
