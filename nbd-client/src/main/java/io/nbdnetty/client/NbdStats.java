package io.nbdnetty.client;

/**
 * A snapshot of a connection's counters (like libnbd's {@code stats_*} calls, plus request counts).
 *
 * @param bytesSent bytes of requests written (headers and payloads)
 * @param bytesReceived bytes of replies read (headers and payloads)
 * @param requestsSent requests written
 * @param chunksReceived replies and reply chunks read
 * @param requestsCompleted requests that completed successfully
 * @param requestsFailed requests that completed exceptionally
 * @param inFlight requests sent and awaiting their reply
 * @param queued requests waiting locally for room under the in-flight caps
 */
public record NbdStats(long bytesSent, long bytesReceived, long requestsSent, long chunksReceived,
        long requestsCompleted, long requestsFailed, int inFlight, int queued) {
}
