package io.nbdnetty.client.internal;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.DomainSocketChannel;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * When the requests a {@link TransmissionHandler} writes are flushed: once per batch, and on a local connection held
 * back while the server has enough to do (see {@link #holdBack()}). Event loop only.
 */
public final class FlushPolicy {
    /** See {@link #holdBack()}. */
    public static final int HOLD_BACKLOG = 16;
    /** See {@link #holdBack()}. */
    public static final int HOLD_MAX = 16;
    /** The longest that written requests are held back, in nanoseconds. */
    public static final long HOLD_NANOS = 1_000_000;

    private final TransmissionHandler h;
    private final Channel channel;
    private final EventLoop loop;
    /** Whether the server is local: see {@link #holdBack()}. */
    private final boolean local;
    private boolean holdTimerSet;
    private boolean flushScheduled;
    /** Requests written but not flushed yet, waiting for the end of a read or {@link #holdBack()}. */
    boolean flushPending;
    /** How many requests are written but not flushed. */
    private int unflushed;

    FlushPolicy(TransmissionHandler h, Channel channel) {
        this.h = h;
        this.channel = channel;
        this.loop = channel.eventLoop();
        this.local = isLocal(channel);
    }

    /**
     * Whether the channel is a Unix socket or a loopback connection.
     *
     * @param channel the channel
     * @return whether its server is on this machine
     */
    public static boolean isLocal(Channel channel) {
        if (channel instanceof DomainSocketChannel) {
            return true;
        }
        SocketAddress remote = channel.remoteAddress();
        return remote instanceof DomainSocketAddress || remote instanceof UnixDomainSocketAddress
                || remote instanceof InetSocketAddress i && i.getAddress() != null
                && i.getAddress().isLoopbackAddress();
    }

    private final Runnable flushTask = () -> {
        flushScheduled = false;
        if (holdBack()) {
            hold();
        } else {
            flushNow();
        }
    };

    /**
     * Flushes once per batch: requests issued while replies are being read (from their callbacks) go out together
     * at the end of the read; requests from other threads, with a flush task queued behind them; a lone request
     * issued on the event loop otherwise (at queue depth 1, latency is what counts), at once.
     */
    void requestFlush() {
        unflushed++;
        if (h.reading) {
            flushPending = true;
        } else if (holdBack()) {
            hold();
        } else if (h.fromOtherThread) {
            scheduleFlush();
        } else {
            flushNow();
        }
    }

    void flushNow() {
        flushPending = false;
        unflushed = 0;
        channel.flush();
    }

    /**
     * Whether to hold written requests back instead of flushing them now: only on a local connection (a Unix socket
     * or loopback, where the server's CPU and not the wire bounds the rate), while the server already has at least
     * {@link #HOLD_BACKLOG} flushed requests to answer (so a reply, and with it a later flush, is sure to come), and
     * until {@link #HOLD_MAX} are held. At 4 KiB QD64 against nbdkit this cut the writes from one per 2.5 requests to
     * one per 16 and each side's wake-ups with them (docs/PERFORMANCE.md); a remote server, whose rate the round
     * trip bounds, would only see its requests later.
     */
    boolean holdBack() {
        return local && unflushed < HOLD_MAX && h.inFlight - unflushed >= HOLD_BACKLOG;
    }

    /** Holds the written requests back; at most {@link #HOLD_NANOS} (a server slow on all it has). */
    void hold() {
        flushPending = true;
        if (!holdTimerSet) {
            holdTimerSet = true;
            loop.schedule(holdTimeout, HOLD_NANOS, TimeUnit.NANOSECONDS);
        }
    }

    private final Runnable holdTimeout = () -> {
        holdTimerSet = false;
        if (flushPending) {
            flushNow();
        }
    };

    private void scheduleFlush() {
        if (!flushScheduled) {
            flushScheduled = true;
            loop.execute(flushTask);
        }
    }

    /** The end of a socket read: flushes what the replies' callbacks wrote, unless it is held back. */
    void readComplete() {
        if (flushPending) {
            if (holdBack()) {
                hold();
            } else {
                flushNow();
            }
        }
    }
}
