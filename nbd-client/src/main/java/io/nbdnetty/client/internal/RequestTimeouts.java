package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdDurations;
import io.nbdnetty.client.NbdTimeoutException;
import io.nbdnetty.codec.NbdReplyDecoder;
import io.netty.channel.EventLoop;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The two timers of a {@link TransmissionHandler}: request timeouts ({@link NbdClientConfig#requestTimeout()}, one
 * sweep per connection) and the stall timeout ({@link NbdClientConfig#stallTimeout()}). Event loop only.
 */
final class RequestTimeouts {
    private final TransmissionHandler h;
    private final NbdClientConfig config;
    private final EventLoop loop;
    /** The timer of {@link #sweepTimeouts} while one is scheduled, else null (cancelled when the connection ends). */
    private io.netty.util.concurrent.ScheduledFuture<?> sweepTimer;
    private final Runnable sweepTask = this::sweepTimeouts;
    /** The timer of {@link #checkStall} while one is scheduled, else null. */
    private io.netty.util.concurrent.ScheduledFuture<?> stallTimer;
    private final Runnable stallTask = this::checkStall;
    /** Checks per stall timeout (see {@link #checkStall}). */
    private static final int STALL_CHECKS = 8;
    /** The reply decoder, once installed (its byte count is the stall timer's measure of progress). */
    NbdReplyDecoder replyDecoder;
    /** The decoder's byte count at the last stall check that saw it change. */
    private long stallBytes;
    /** Stall checks in a row that saw no new byte, since then or since a request ended an idle spell. */
    private int quietChecks;

    RequestTimeouts(TransmissionHandler h, NbdClientConfig config, EventLoop loop) {
        this.h = h;
        this.config = config;
        this.loop = loop;
    }

    /** A request was sent; {@code first} if it is the only one in flight. */
    void sent(boolean first, boolean timed) {
        if (!config.stallTimeout().isZero()) {
            if (first) {
                // The first request after an idle spell: the server had no reason to send anything until now.
                quietChecks = 0;
            }
            if (stallTimer == null) {
                scheduleStallCheck();
            }
        }
        if (timed && sweepTimer == null) {
            scheduleSweep(config.requestTimeout().toNanos());
        }
    }

    /** The connection ended: stops both timers (on a caller's shared group they would keep it until they ran). */
    void cancel() {
        if (sweepTimer != null) {
            sweepTimer.cancel(false);
            sweepTimer = null;
        }
        if (stallTimer != null) {
            stallTimer.cancel(false);
            stallTimer = null;
        }
    }

    /**
     * The stall timer, every {@link #STALL_CHECKS}th of {@link NbdClientConfig#stallTimeout()} while requests are in
     * flight: it compares the bytes the reply decoder has received (whole messages or not) with the last check, and
     * fails the connection after {@link #STALL_CHECKS} + 1 checks in a row without a byte. So a connection fails after
     * between 1 and 1.25 times the timeout of silence, never sooner; the data path pays one addition per socket
     * read and nothing per request. With nothing in flight the timer stops; the next request starts it again.
     */
    private void checkStall() {
        stallTimer = null;
        if (h.failure != null || h.inFlightMap.isEmpty()) {
            return;
        }
        long received = replyDecoder == null ? 0 : replyDecoder.bytesReceived();
        if (received != stallBytes) {
            stallBytes = received;
            quietChecks = 0;
        } else if (++quietChecks > STALL_CHECKS) {
            h.owner.fail(new NbdTimeoutException("no reply from the server for "
                    + NbdDurations.inWords(config.stallTimeout()) + " (" + h.inFlightMap.size()
                    + " request(s) waiting)"));
            return;
        }
        scheduleStallCheck();
    }

    private void scheduleStallCheck() {
        stallTimer = loop.schedule(stallTask, Math.max(1, config.stallTimeout().toNanos() / STALL_CHECKS),
                TimeUnit.NANOSECONDS);
    }

    private void scheduleSweep(long delayNanos) {
        sweepTimer = loop.schedule(sweepTask, delayNanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Request timeouts: one timer per connection rather than one per request (a timer per request was a scheduled
     * task, a lambda and a priority-queue insert and removal for every request). Fails each request in flight whose
     * {@link NbdClientConfig#requestTimeout()} has passed, then runs again at the earliest deadline left, but no
     * sooner than 1/32 of the timeout from now: a stream of expiring requests costs a bounded number of sweeps, and
     * a request fails at most that much after its deadline. Requests sent meanwhile have later deadlines than any
     * left, so one pending sweep is enough; with none left it stops, and the next timed request starts it again.
     */
    private void sweepTimeouts() {
        sweepTimer = null;
        if (h.failure != null || h.inFlightMap.isEmpty()) {
            return;
        }
        long timeout = config.requestTimeout().toNanos();
        long now = System.nanoTime();
        long next = Long.MAX_VALUE;
        List<Request<?>> expired = null;
        for (Request<?> r : h.inFlightMap.values()) {
            Request.Timing t = r.timingOrNull();
            if (t == null || t.expired) {
                continue;
            }
            long left = t.sentNanos + timeout - now;
            if (left <= 0) {
                t.expired = true;
                if (expired == null) {
                    expired = new ArrayList<>();
                }
                expired.add(r);
            } else {
                next = Math.min(next, left);
            }
        }
        if (next != Long.MAX_VALUE) {
            scheduleSweep(Math.max(next, timeout / 32));
        }
        if (expired != null) {
            // After the iteration: failing a future runs its callbacks, which may send requests.
            expired.sort(Comparator.comparingLong(r -> r.cookie));
            for (Request<?> r : expired) {
                timedOut(r);
            }
        }
    }

    /** The request's timeout passed: fail its future; the request stays in flight until its late reply. */
    private void timedOut(Request<?> r) {
        NbdTimeoutException e = new NbdTimeoutException(r.type + " at offset " + r.offset + " got no reply within "
                + NbdDurations.inWords(config.requestTimeout()));
        h.failFuture(r, e);
    }
}
