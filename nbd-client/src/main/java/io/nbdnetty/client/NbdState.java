package io.nbdnetty.client;

/**
 * The state of an {@link NbdHandle}, as libnbd's {@code aio_is_*} calls report it.
 */
public enum NbdState {
    /** Newly created: not yet connected ({@code aio_is_created}). */
    CREATED("newly created"),
    /** The handshake is running, or an option is in flight in opt mode ({@code aio_is_connecting}). */
    CONNECTING("connecting"),
    /** Opt mode: waiting for the caller's next option ({@code aio_is_negotiating}). */
    NEGOTIATING("negotiating"),
    /** Transmission phase, no command in flight ({@code aio_is_ready}). */
    READY("connected with the server"),
    /** Transmission phase with commands in flight ({@code aio_is_processing}; libnbd also counts it as ready). */
    PROCESSING("connected with the server"),
    /** A fatal error ended the connection; only close is possible ({@code aio_is_dead}). */
    DEAD("dead"),
    /** Shut down by the caller or by a clean disconnect ({@code aio_is_closed}). */
    CLOSED("shut down");

    private final String description;

    NbdState(String description) {
        this.description = description;
    }

    /**
     * The phrase libnbd uses for this state in its errors.
     *
     * @return the description
     */
    public String description() {
        return description;
    }
}
