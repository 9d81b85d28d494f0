package io.nbdnetty.client.copy;

import io.nbdnetty.client.NbdException;

/**
 * A {@link Copier} failed: a read, write or zeroing of one range failed. The message names the range and the reason;
 * {@link #getCause()} is the original failure (an {@link io.nbdnetty.client.NbdCommandException}, an
 * {@link java.io.IOException}, ...).
 */
public class CopyException extends NbdException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message what failed, where, and why
     * @param cause the original failure
     */
    public CopyException(String message, Throwable cause) {
        super(message, cause);
    }
}
