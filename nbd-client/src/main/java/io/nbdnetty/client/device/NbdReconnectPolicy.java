package io.nbdnetty.client.device;


import java.time.Duration;
import java.util.Objects;

/**
 * How {@link NbdReconnectingDevice} reconnects: up to {@code maxAttempts} attempts per outage, the first after
 * {@code initialDelay}, each next one after the previous delay times {@code multiplier}, never more than
 * {@code maxDelay} (like qemu's {@code reconnect-delay}, but bounded by attempts rather than time).
 *
 * @param maxAttempts connection attempts per outage before giving up, at least 1
 * @param initialDelay the delay before the first attempt, not negative
 * @param maxDelay the longest delay between attempts, at least {@code initialDelay}
 * @param multiplier the backoff factor, at least 1
 */
public record NbdReconnectPolicy(int maxAttempts, Duration initialDelay, Duration maxDelay, double multiplier) {
    /**
     * Checks the arguments.
     *
     * @param maxAttempts attempts
     * @param initialDelay first delay
     * @param maxDelay largest delay
     * @param multiplier backoff factor
     */
    public NbdReconnectPolicy {
        Objects.requireNonNull(initialDelay, "initialDelay");
        Objects.requireNonNull(maxDelay, "maxDelay");
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be at least 1: " + maxAttempts);
        }
        if (initialDelay.isNegative() || maxDelay.compareTo(initialDelay) < 0) {
            throw new IllegalArgumentException("need 0 <= initialDelay <= maxDelay: " + initialDelay + ", "
                    + maxDelay);
        }
        if (!(multiplier >= 1)) {
            throw new IllegalArgumentException("multiplier must be at least 1: " + multiplier);
        }
    }

    /**
     * Ten attempts, 100 ms then doubling up to 5 s (about 25 s in all).
     *
     * @return the default policy
     */
    public static NbdReconnectPolicy defaults() {
        return new NbdReconnectPolicy(10, Duration.ofMillis(100), Duration.ofSeconds(5), 2.0);
    }

    /**
     * The delay before an attempt.
     *
     * @param attempt the attempt, from 1
     * @return {@code min(maxDelay, initialDelay * multiplier^(attempt - 1))}
     */
    public Duration delayBefore(int attempt) {
        double nanos = initialDelay.toNanos() * Math.pow(multiplier, Math.max(0, attempt - 1));
        long max = maxDelay.toNanos();
        return Duration.ofNanos(nanos >= max ? max : (long) nanos);
    }
}
