package io.nbdnetty.client.internal;

import io.netty.channel.SelectStrategy;
import io.netty.util.IntSupplier;
import io.netty.util.concurrent.FastThreadLocal;

import java.util.function.LongSupplier;

/**
 * Netty's select strategy with busy polling: with tasks waiting, a non-blocking poll (as Netty's default); with
 * none, while a connection of the loop awaits replies, non-blocking polls until {@code spinNanos} have passed
 * since the loop last found work, then a blocking one; with none awaiting replies, a blocking one at once. Event
 * loop only, like every select strategy. The connections on the loop find it with {@link #current()}.
 */
public final class BusyPollStrategy implements SelectStrategy {
    /** The strategy of the current event loop thread, set on its first use there. */
    private static final FastThreadLocal<BusyPollStrategy> CURRENT = new FastThreadLocal<>();

    private final long spinNanos;
    private final LongSupplier clock;
    private long until;
    private boolean polling;
    private boolean registered;
    /** Connections on this loop with requests in flight: see {@link #awaitingReplies(boolean)}. */
    private int awaiting;

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
     * Counts a connection of this loop that starts ({@code true}) or stops ({@code false}) awaiting replies; the
     * loop polls only while at least one does. Event loop only.
     *
     * @param now whether the connection now has requests in flight
     */
    public void awaitingReplies(boolean now) {
        awaiting += now ? 1 : -1;
    }

    /**
     * How many connections on this loop await replies. Event loop only.
     *
     * @return the count
     */
    public int awaiting() {
        return awaiting;
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
        if (awaiting <= 0) {
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
