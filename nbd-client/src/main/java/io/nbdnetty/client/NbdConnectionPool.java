package io.nbdnetty.client;

import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
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
 * <p>A server that stops answering does not hang the pool: connections made with the default configuration fail
 * after {@link NbdClientConfig#stallTimeout()} (60 s) without a byte while requests wait, and the requests on them
 * fail with {@link NbdTimeoutException}.
 *
 * <p>Thread-safe. The pool owns its handles and closes them.
 */
public final class NbdConnectionPool implements NbdBlockDevice, AutoCloseable {
    private final AtomicInteger nextPick = new AtomicInteger();
    private final List<NbdConnection> connections;
    private final Set<CompletableFuture<?>> pendingWrites = ConcurrentHashMap.newKeySet();

    private NbdConnectionPool(List<NbdConnection> connections) {
        this.connections = List.copyOf(connections);
    }

    /**
     * Opens {@code count} connections with the given connector and checks they can be pooled: same export size and
     * flags, and multi-conn advertised (or a read-only export) when there is more than one.
     *
     * @param count the number of connections, at least 1
     * @param connector opens one ready connection (e.g. {@code () -> NbdHandle.create(config).connect(uri)})
     * @return completes with the pool; fails (closing what opened) if any connection fails or they cannot be pooled
     */
    public static CompletableFuture<NbdConnectionPool> open(int count,
            Supplier<CompletableFuture<NbdConnection>> connector) {
        if (count < 1) {
            throw new IllegalArgumentException("count must be at least 1: " + count);
        }
        Objects.requireNonNull(connector, "connector");
        List<CompletableFuture<NbdConnection>> all = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            all.add(connector.get());
        }
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).handle((x, e) -> {
            List<NbdConnection> opened = new ArrayList<>();
            for (CompletableFuture<NbdConnection> f : all) {
                if (!f.isCompletedExceptionally()) {
                    opened.add(f.join());
                }
            }
            Throwable failure = e != null ? NbdHandle.unwrap(e) : checkPoolable(opened);
            if (failure != null) {
                opened.forEach(c -> c.handle().closeAsync());
                throw new java.util.concurrent.CompletionException(failure);
            }
            return new NbdConnectionPool(opened);
        });
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
