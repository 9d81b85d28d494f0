package io.nbdnetty.client.internal;

import io.netty.channel.SelectStrategy;
import io.netty.util.IntSupplier;
import io.netty.util.concurrent.FastThreadLocal;

import java.util.function.LongSupplier;

/**
 * Netty's select strategy with busy polling: with tasks waiting, a non-blocking poll (as Netty's default); with
 * none, while the loop's connections have requests in flight, non-blocking polls until {@code spinNanos} have passed
 * since the loop last found work, then a blocking one; with nothing in flight, a blocking one at once. Event loop
 * only, like every select strategy. The connections on the loop find it with {@link #current()} and count their
 * requests with {@link #requests(int, int)}.
 *
 * <p>It polls only where a sleep would cost more than the poll: while the loop's connections have fewer than {@link
 * #POLL_BELOW_REQUESTS} requests in flight between them, or a read of at least {@link #LARGE_READ} bytes (whose reply
 * arrives in many pieces). With more small requests in flight, replies come in bursts that a wake-up serves many of
 * at once, and a polling loop takes the CPU the server needs to answer them: against nbdkit on two CPUs, 4 KiB reads
 * at queue depth 16-64 went 5-18% faster without polling, at depth 4 50% slower, at 8 even (docs/PERFORMANCE.md).
 */
public final class BusyPollStrategy implements SelectStrategy {
    /** Polling stops once the loop has this many requests in flight, unless one is a large read. */
    public static final int POLL_BELOW_REQUESTS = 8;
    /** A read at least this long counts as large: see the class comment. */
    public static final long LARGE_READ = 64 * 1024;

    /** The strategy of the current event loop thread, set on its first use there. */
    private static final FastThreadLocal<BusyPollStrategy> CURRENT = new FastThreadLocal<>();

    private final long spinNanos;
    private final LongSupplier clock;
    private long until;
    private boolean polling;
    private boolean registered;
    /** Requests in flight on this loop's connections, and how many of them are large reads. */
    private int requests;
    private int largeReads;

    /**
     * A strategy.
     *
     * @param spinNanos how long to poll after the loop last found work
     * @param clock the clock, in nanoseconds
     */
    public BusyPollStrategy(long spinNanos, LongSupplier clock) {
        this.spinNanos = spinNanos;
        this.clock = clock;
    }

    /**
     * The strategy of the event loop the caller runs on.
     *
     * @return the strategy, or null if the current thread's loop has none (not one of our groups)
     */
    public static BusyPollStrategy current() {
        return CURRENT.getIfExists();
    }

    /**
     * Counts requests sent ({@code n} positive) or answered or failed ({@code n} negative) on a connection of this
     * loop. Event loop only.
     *
     * @param n how many requests, negative for ones no longer in flight
     * @param large how many of them are reads of at least {@link #LARGE_READ} bytes, with the same sign
     */
    public void requests(int n, int large) {
        requests += n;
        largeReads += large;
    }

    /**
     * How many requests the connections of this loop have in flight. Event loop only.
     *
     * @return the count
     */
    public int requestsInFlight() {
        return requests;
    }

    /**
     * How many of {@link #requestsInFlight()} are large reads. Event loop only.
     *
     * @return the count
     */
    public int largeReadsInFlight() {
        return largeReads;
    }

    /**
     * Whether a request is a large read for {@link #requests(int, int)}.
     *
     * @param read whether it is a read
     * @param length its length
     * @return whether it counts as large
     */
    public static boolean isLargeRead(boolean read, long length) {
        return read && length >= LARGE_READ;
    }

    @Override
    public int calculateStrategy(IntSupplier selectNow, boolean hasTasks) throws Exception {
        if (!registered) {
            registered = true;
            CURRENT.set(this);
        }
        if (hasTasks) {
            polling = false;
            return selectNow.get();
        }
        if (requests <= 0 || requests >= POLL_BELOW_REQUESTS && largeReads <= 0) {
            polling = false;
            return SELECT;
        }
        long now = clock.getAsLong();
        if (!polling) {
            polling = true;
            until = now + spinNanos;
        }
        if (now - until < 0) {
            int ready = selectNow.get();
            if (ready > 0) {
                polling = false; // work found: the next wait polls afresh
                return ready;
            }
            return CONTINUE;
        }
        polling = false;
        return SELECT;
    }
}
