package io.nbdnetty.client;

import io.nbdnetty.codec.NbdCommandType;

/**
 * Observes a connection's requests, for metrics (counters, latency histograms). Set with {@link
 * NbdClientConfig.Builder#listener(NbdListener)}. Called on the connection's event loop: keep it quick and never
 * block. Thread-safe implementations may be shared between connections.
 */
public interface NbdListener {
    /**
     * A request completed (or failed, or timed out).
     *
     * @param command the command
     * @param offset its offset
     * @param length its length (bytes read or written, or the effect length)
     * @param latencyNanos from being sent to completing; 0 for a request refused before it was sent
     * @param error null on success, else what the request's future completed with
     */
    default void requestCompleted(NbdCommandType command, long offset, long length, long latencyNanos,
            Throwable error) {
    }

    /**
     * The connection failed or closed; no more requests will complete after this.
     *
     * @param cause why
     */
    default void connectionClosed(Throwable cause) {
    }

    /**
     * A block status reply described bytes past the end of the export, and the client cut it there (see {@link
     * NbdStrict#EXTENTS}).
     *
     * @param context the metadata context
     * @param offset the offset of the request
     * @param end where the server's extents ended (exclusive)
     * @param exportSize the size of the export, where they now end
     */
    default void extentsBeyondEnd(String context, long offset, long end, long exportSize) {
    }
}
