package io.nbdnetty.client.device;

import io.nbdnetty.client.NbdBlockDevice;
import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdDurations;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdTimeoutException;
import io.nbdnetty.client.internal.NegotiationHandler;
import io.netty.buffer.ByteBuf;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Several connections to one export used as one device (multi-conn): each request goes to the connection with the
 * fewest requests in flight.
 *
 * <p>Only for servers that advertise {@code NBD_FLAG_CAN_MULTI_CONN} (or read-only exports), since otherwise writes
 * on one connection need not be visible on another. {@link #flush()} follows the spec's multi-conn rule: a flush on
 * one connection covers the writes that had completed, on any connection, before it was sent; so the pool waits for
 * every write issued before the flush, then flushes on one connection.
 *
 * <p>Opening: {@link #open(int, Supplier)} goes on with the connections that complete the handshake, at least one,
 * when the server accepts fewer than asked; {@link #openExactly(int, Supplier)} insists on all of them.
 *
 * <p>A server that stops answering does not hang the pool: connections made with the default configuration fail
 * after {@link NbdClientConfig#stallTimeout()} (60 s) without a byte while requests wait, and the requests on them
 * fail with {@link NbdTimeoutException}.
 *
 * <p>Thread-safe. The pool owns its handles and closes them.
 */
public final class NbdConnectionPool implements NbdBlockDevice, AutoCloseable {
    /**
     * How long {@link #open(int, Supplier)} waits for more connections to finish their handshakes once the first is
     * ready and none has finished since: 500 ms. They start together, so a server that takes them all keeps
     * answering them (at hundreds of connections, for longer than that in all) and one that limits its clients falls
     * silent.
     */
    public static final Duration DEFAULT_EXTRA_WAIT = Duration.ofMillis(500);

    private final AtomicInteger nextPick = new AtomicInteger();
    private final List<NbdConnection> connections;
    private final int requested;
    private final List<Throwable> shortfall;
    private final Set<CompletableFuture<?>> pendingWrites = ConcurrentHashMap.newKeySet();

    private NbdConnectionPool(List<NbdConnection> connections, int requested, List<Throwable> shortfall) {
        this.connections = List.copyOf(connections);
        this.requested = requested;
        this.shortfall = List.copyOf(shortfall);
    }

    /**
     * Opens up to {@code count} connections and goes on with those that complete the handshake, at least one:
     * {@link #open(int, Supplier, Duration)} with {@link #DEFAULT_EXTRA_WAIT}.
     *
     * @param count the number of connections wanted, at least 1
     * @param connector opens one ready connection (e.g. {@code () -> NbdHandle.create(config).connect(uri)})
     * @return completes with the pool; see {@link #open(int, Supplier, Duration)}
     */
    public static CompletableFuture<NbdConnectionPool> open(int count,
            Supplier<CompletableFuture<NbdConnection>> connector) {
        return open(count, connector, DEFAULT_EXTRA_WAIT);
    }

    /**
     * Opens up to {@code count} connections at once and goes on with those that complete the handshake, at least one,
     * for servers that accept fewer clients than asked (e.g. {@code qemu-nbd -e 2}, which leaves further clients
     * unanswered in its listen queue, or {@code nbdkit --filter=limit}, which closes them). Once the first connection
     * is ready, the others may go on finishing their handshakes for as long as one finishes at least every {@code
     * extraWait} (so hundreds of connections that a server answers one after the other all get in); those still
     * pending once {@code extraWait} has passed with none finishing are
     * cancelled and closed (a connector whose future is a handle's {@link NbdHandle#readyFuture()} closes the handle
     * on cancel; any connection that still completes later is closed too), and those that failed are dropped.
     * {@link #connections()} holds the ones kept, {@link #requested()} the count asked for and {@link #shortfall()}
     * why each of the others is missing.
     *
     * <p>The pool then checks the kept connections can be pooled: same export size and flags, and multi-conn
     * advertised (or a read-only export) when more than one is kept.
     *
     * @param count the number of connections wanted, at least 1
     * @param connector opens one ready connection; called {@code count} times at once
     * @param extraWait how long to wait, once the first connection is ready, for the next to finish; not negative
     * @return completes with the pool; fails with the first connection's error if none completed the handshake, or
     *     if the connections cannot be pooled (closing what opened)
     */
    public static CompletableFuture<NbdConnectionPool> open(int count,
            Supplier<CompletableFuture<NbdConnection>> connector, Duration extraWait) {
        Objects.requireNonNull(extraWait, "extraWait");
        if (extraWait.isNegative()) {
            throw new IllegalArgumentException("extraWait must not be negative: " + extraWait);
        }
        return start(count, connector, extraWait);
    }

    /**
     * Opens exactly {@code count} connections: fails (closing what opened) if any of them fails its handshake.
     *
     * @param count the number of connections, at least 1
     * @param connector opens one ready connection; called {@code count} times at once
     * @return completes with the pool; fails with the first error of any connection, or if they cannot be pooled
     */
    public static CompletableFuture<NbdConnectionPool> openExactly(int count,
            Supplier<CompletableFuture<NbdConnection>> connector) {
        return start(count, connector, null);
    }

    /** Opens the connections; {@code extraWait} null means all or nothing. */
    private static CompletableFuture<NbdConnectionPool> start(int count,
            Supplier<CompletableFuture<NbdConnection>> connector, Duration extraWait) {
        if (count < 1) {
            throw new IllegalArgumentException("count must be at least 1: " + count);
        }
        Objects.requireNonNull(connector, "connector");
        List<CompletableFuture<NbdConnection>> all = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            CompletableFuture<NbdConnection> f;
            try {
                f = Objects.requireNonNull(connector.get(), "the connector returned null");
            } catch (RuntimeException e) {
                f = CompletableFuture.failedFuture(e);
            }
            all.add(f);
        }
        Opening opening = new Opening(all, extraWait);
        opening.begin();
        return opening.result;
    }

    /** The connections being opened, until the pool is settled. */
    private static final class Opening {
        final List<CompletableFuture<NbdConnection>> all;
        final Duration extraWait;
        final CompletableFuture<NbdConnectionPool> result = new CompletableFuture<>();
        // Guarded by this.
        private boolean settled;
        private boolean timerStarted;
        /** When a connection last finished its handshake, in System.nanoTime(). */
        private long lastReady;

        Opening(List<CompletableFuture<NbdConnection>> all, Duration extraWait) {
            this.all = all;
            this.extraWait = extraWait;
        }

        void begin() {
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).whenComplete((x, e) -> settle());
            if (extraWait == null) {
                return;
            }
            for (CompletableFuture<NbdConnection> f : all) {
                f.thenRun(this::ready);
            }
        }

        /** A connection is ready: the first starts the timer; each one moves its end. */
        private void ready() {
            synchronized (this) {
                lastReady = System.nanoTime();
                if (timerStarted || settled) {
                    return;
                }
                timerStarted = true;
            }
            if (extraWait.isZero()) {
                settle();
            } else {
                waitFor(extraWait.toNanos());
            }
        }

        private void waitFor(long nanos) {
            CompletableFuture.delayedExecutor(nanos, TimeUnit.NANOSECONDS).execute(this::timerFired);
        }

        /** The timer: settles, unless a connection got ready meanwhile (then waits from that one on). */
        private void timerFired() {
            long left;
            synchronized (this) {
                left = lastReady + extraWait.toNanos() - System.nanoTime();
            }
            if (left > 0) {
                waitFor(left);
            } else {
                settle();
            }
        }

        /** Decides the pool: when every connection has finished, or the extra wait is over. */
        private void settle() {
            synchronized (this) {
                if (settled) {
                    return;
                }
                settled = true;
            }
            List<NbdConnection> opened = new ArrayList<>();
            List<Throwable> missing = new ArrayList<>();
            Throwable firstFailure = null;
            for (CompletableFuture<NbdConnection> f : all) {
                if (f.isDone() && !f.isCompletedExceptionally()) {
                    opened.add(f.join());
                    continue;
                }
                Throwable why;
                if (f.isDone()) {
                    why = NegotiationHandler.unwrap(f.handle((c, e) -> e).join());
                    firstFailure = firstFailure == null ? why : firstFailure;
                } else {
                    why = new NbdTimeoutException("the handshake did not finish within "
                            + NbdDurations.inWords(extraWait) + " after the last connection that did");
                    // Abandon it; should it still complete, close it.
                    f.cancel(false);
                    f.thenAccept(c -> c.handle().closeAsync());
                }
                missing.add(why);
            }
            Throwable failure = opened.isEmpty() || (extraWait == null && firstFailure != null) ? firstFailure
                    : checkPoolable(opened);
            if (failure != null) {
                opened.forEach(c -> c.handle().closeAsync());
                result.completeExceptionally(failure);
                return;
            }
            result.complete(new NbdConnectionPool(opened, all.size(), missing));
        }
    }

    private static NbdException checkPoolable(List<NbdConnection> opened) {
        NbdExportInfo first = opened.get(0).exportInfo();
        if (opened.size() > 1 && !first.canMultiConn() && !first.isReadOnly()) {
            return new NbdException("the server does not advertise NBD_FLAG_CAN_MULTI_CONN for this writable export,"
                    + " so several connections are not safe; use one connection");
        }
        for (NbdConnection c : opened) {
            if (c.size() != first.size() || c.exportInfo().transmissionFlags() != first.transmissionFlags()) {
                return new NbdException("the connections of a pool see different exports: " + first + " and "
                        + c.exportInfo());
            }
        }
        return null;
    }

    /**
     * Returns the connections.
     *
     * @return the connections, in the order opened
     */
    public List<NbdConnection> connections() {
        return connections;
    }

    /**
     * Returns how many connections the pool was asked to open; {@link #connections()} may hold fewer.
     *
     * @return the count given to {@code open}
     */
    public int requested() {
        return requested;
    }

    /**
     * Returns why each connection asked for but not in the pool is missing: its handshake's error, or an
     * {@link NbdTimeoutException} if it was still pending when the pool stopped waiting.
     *
     * @return one error per missing connection, in the order they were started; empty if none is missing
     */
    public List<Throwable> shortfall() {
        return shortfall;
    }

    private NbdConnection pick() {
        // inFlight() counts only requests the event loop has sent, so a burst submitted from one thread sees every
        // connection idle: start the search at a rotating index so that ties are spread instead of all going to the
        // first connection.
        int n = connections.size();
        int start = Math.floorMod(nextPick.getAndIncrement(), n);
        NbdConnection best = connections.get(start);
        for (int k = 1; k < n; k++) {
            NbdConnection c = connections.get((start + k) % n);
            if (c.inFlight() < best.inFlight()) {
                best = c;
            }
        }
        return best;
    }

    @Override
    public NbdExportInfo exportInfo() {
        return connections.get(0).exportInfo();
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length, int flags) {
        return pick().read(offset, length, flags);
    }

    private <T> CompletableFuture<T> track(CompletableFuture<T> f) {
        pendingWrites.add(f);
        f.whenComplete((v, e) -> pendingWrites.remove(f));
        return f;
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        return track(pick().write(offset, data, flags));
    }

    @Override
    public CompletableFuture<Void> flush() {
        CompletableFuture<?>[] before = pendingWrites.toArray(CompletableFuture[]::new);
        // Failed writes do not stop the flush of the others; their own futures report them.
        return CompletableFuture.allOf(java.util.Arrays.stream(before).map(f -> f.handle((v, e) -> null))
                .toArray(CompletableFuture[]::new)).thenCompose(x -> pick().flush());
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return track(pick().trim(offset, length, flags));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return track(pick().writeZeroes(offset, length, flags));
    }

    @Override
    public CompletableFuture<Void> cache(long offset, long length) {
        return pick().cache(offset, length);
    }

    @Override
    public CompletableFuture<NbdBlockStatus> blockStatus(long offset, long length, int flags) {
        return pick().blockStatus(offset, length, flags);
    }

    @Override
    public CompletableFuture<NbdBlockStatus> blockStatus(long offset, long length, int flags,
            java.util.Set<String> contexts) {
        return pick().blockStatus(offset, length, flags, contexts);
    }

    @Override
    public CompletableFuture<Void> disconnect() {
        return CompletableFuture.allOf(connections.stream().map(NbdConnection::disconnect)
                .toArray(CompletableFuture[]::new));
    }

    /** Closes every handle at once (pending requests fail); for a clean end use {@link #disconnect()} first. */
    @Override
    public void close() {
        connections.forEach(c -> c.handle().close());
    }
}
