package io.nbdnetty.client.internal;

/**
 * What the transmission phase tells the handle that owns it. The handle is the one owner of the close and fail
 * path: the transmission handler reports here and the handle fails its futures, closes the channel and calls back
 * {@link TransmissionHandler#failAll} once.
 */
public interface ConnectionOwner {
    /**
     * The connection failed (a protocol error, an I/O error, the server went away, a stall): the handle goes DEAD.
     *
     * @param cause why
     */
    void fail(Throwable cause);

    /** A soft disconnect is under way: the handle goes CLOSED. */
    void markClosed();

    /** A soft disconnect ran out of time: the handle closes at once. */
    void close();
}
