package io.nbdnetty.client;

import java.io.IOException;

/**
 * Base of every error this client reports. Futures complete exceptionally with a subclass: {@link
 * NbdProtocolException} (the server broke the protocol), {@link NbdOptionException} (an option was refused), {@link
 * NbdCommandException} (the server failed a command), {@link NbdConnectionClosedException}, {@link
 * NbdTimeoutException}, {@link NbdStateException} (the handle is in the wrong state) and {@link
 * NbdStrictModeException} (a request refused on the client side).
 */
public class NbdException extends IOException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message what went wrong
     */
    public NbdException(String message) {
        super(message);
    }

    /**
     * Creates an exception with a cause.
     *
     * @param message what went wrong
     * @param cause the underlying cause
     */
    public NbdException(String message, Throwable cause) {
        super(message, cause);
    }
}
