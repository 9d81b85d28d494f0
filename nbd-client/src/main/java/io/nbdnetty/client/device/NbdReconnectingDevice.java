package io.nbdnetty.client.device;

import io.nbdnetty.client.NbdBlockDevice;
import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdCommandException;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdConnectionClosedException;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdProtocolException;
import io.nbdnetty.client.NbdState;
import io.nbdnetty.client.NbdTimeoutException;
import io.nbdnetty.client.internal.NegotiationHandler;
import io.nbdnetty.codec.NbdCommandFlags;
import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A device that survives the loss of its connection (opt-in; libnbd has no such thing, qemu's NBD client has
 * {@code reconnect-delay}): when the connection dies, it opens a new one with the connector, checks that the export
 * did not change, and retries the requests that failed because of the loss.
 *
 * <p>Reconnecting: triggered by a request failing with {@link NbdConnectionClosedException} or
 * {@link NbdProtocolException} (the connection is gone either way); requests issued meanwhile wait for the new
 * connection. Attempts follow the {@link NbdReconnectPolicy} (bounded delay with backoff). After the last failed
 * attempt every waiting and future request fails with an {@link NbdConnectionClosedException} saying so. The new
 * connection must show the same export size, transmission flags and metadata contexts; otherwise it is closed and
 * everything fails, now and later, with an {@link NbdException} naming the difference (data written for the old
 * export must not land on a different one).
 *
 * <p>What is retried: reads, block status and cache (no side effects), and also writes, trims and write zeroes:
 * these are idempotent in NBD (writing the same bytes, or zeroing or trimming the same range, twice leaves the
 * same result), so a request whose reply was lost may be sent again. Its effect may then have happened twice, which
 * is harmless unless another writer changed the range in between: with a single writer, it is safe. Write buffers
 * are kept (retained) until the write is acknowledged or finally fails. A request is retried at most
 * {@code maxAttempts} times. Errors the server reports ({@link NbdCommandException}) and request timeouts
 * ({@link NbdTimeoutException}) do not reconnect and are not retried: the connection is still alive. A server that
 * stalls ({@link NbdClientConfig#stallTimeout()}, 60 s by default) has lost its connection: that reconnects.
 *
 * <p>FLUSH is the exception. A flush on the new connection covers only writes the new server has acknowledged;
 * writes acknowledged by the dead connection and not covered by a successful flush (or sent with FUA) may have been
 * lost with the server. So the device counts such writes: a {@link #flush()} that would need to cover writes
 * acknowledged before a reconnect fails with an {@link NbdException} saying how many (the count is then cleared, so
 * the caller, having been told, can rewrite and flush again); a flush with no such writes is retried like the rest.
 *
 * <p>Thread-safe. Closing the device closes the current connection's handle.
 */
public final class NbdReconnectingDevice implements NbdBlockDevice, AutoCloseable {
    private final Supplier<CompletableFuture<NbdConnection>> connector;
    private final NbdReconnectPolicy policy;
    private final NbdExportInfo info;
    private final List<String> contexts;

    // Guarded by this.
    private NbdConnection current;
    private CompletableFuture<NbdConnection> reconnecting;
    private Throwable permanentFailure;
    private boolean closed;
    private long unflushedWrites;
    private long possiblyLostWrites;
    private int reconnects;

    private NbdReconnectingDevice(Supplier<CompletableFuture<NbdConnection>> connector, NbdReconnectPolicy policy,
            NbdConnection first) {
        this.connector = connector;
        this.policy = policy;
        this.current = first;
        this.info = first.exportInfo();
        this.contexts = contextNames(first);
    }

    /**
     * Opens the first connection (once, without retrying) and wraps it.
     *
     * @param connector opens one ready connection, e.g. {@code () -> NbdHandle.create(config).connect(uri)}; called
     *     again for each reconnection attempt
     * @param policy how to reconnect
     * @return completes with the device, or fails as the first connection did
     */
    public static CompletableFuture<NbdReconnectingDevice> open(Supplier<CompletableFuture<NbdConnection>> connector,
            NbdReconnectPolicy policy) {
        Objects.requireNonNull(connector, "connector");
        Objects.requireNonNull(policy, "policy");
        return connect(connector).thenApply(c -> new NbdReconnectingDevice(connector, policy, c));
    }

    private static CompletableFuture<NbdConnection> connect(Supplier<CompletableFuture<NbdConnection>> connector) {
        try {
            CompletableFuture<NbdConnection> f = connector.get();
            return f != null ? f : CompletableFuture.failedFuture(new NbdException("the connector returned null"));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static List<String> contextNames(NbdConnection c) {
        return c.metaContexts().stream().map(NbdMetaContext::name).sorted().toList();
    }

    /**
     * Returns the connection in use (it may be dead, about to be replaced).
     *
     * @return the current connection
     */
    public synchronized NbdConnection connection() {
        return current;
    }

    /**
     * Returns how many times the device has reconnected.
     *
     * @return successful reconnections so far
     */
    public synchronized int reconnects() {
        return reconnects;
    }

    /**
     * Returns the export information of the first connection (every later one must match it).
     *
     * @return the export information
     */
    @Override
    public NbdExportInfo exportInfo() {
        return info;
    }

    // ---------------------------------------------------------------------------------------------- commands

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length, int flags) {
        return execute(c -> c.read(offset, length, flags));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        Objects.requireNonNull(data, "data");
        boolean fua = (flags & NbdCommandFlags.FUA) != 0;
        CompletableFuture<Void> f = execute(c -> c.write(offset, data.retainedDuplicate(), flags)
                .thenRun(() -> acknowledged(c, fua)));
        f.whenComplete((v, e) -> data.release());
        return f;
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        boolean fua = (flags & NbdCommandFlags.FUA) != 0;
        return execute(c -> c.trim(offset, length, flags).thenRun(() -> acknowledged(c, fua)));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        boolean fua = (flags & NbdCommandFlags.FUA) != 0;
        return execute(c -> c.writeZeroes(offset, length, flags).thenRun(() -> acknowledged(c, fua)));
    }

    @Override
    public CompletableFuture<Void> cache(long offset, long length) {
        return execute(c -> c.cache(offset, length));
    }

    @Override
    public CompletableFuture<NbdBlockStatus> blockStatus(long offset, long length, int flags) {
        return execute(c -> c.blockStatus(offset, length, flags));
    }

    @Override
    public CompletableFuture<NbdBlockStatus> blockStatus(long offset, long length, int flags,
            java.util.Set<String> contexts) {
        return execute(c -> c.blockStatus(offset, length, flags, contexts));
    }

    /**
     * NBD_CMD_FLUSH, failing with {@link NbdException} if writes acknowledged by a connection that has since died
     * were never covered by a flush (see the class comment); retried after a reconnect otherwise.
     *
     * @return completes when flushed
     */
    @Override
    public CompletableFuture<Void> flush() {
        return execute(c -> {
            long covered;
            synchronized (this) {
                if (possiblyLostWrites > 0) {
                    long lost = possiblyLostWrites;
                    possiblyLostWrites = 0;
                    return CompletableFuture.failedFuture(new NbdException("cannot flush: the connection was lost"
                            + " after " + lost + " write(s) had been acknowledged without a flush; the server may"
                            + " have lost them, and a flush on the new connection cannot cover them (rewrite them"
                            + " and flush again)"));
                }
                covered = unflushedWrites;
            }
            return c.flush().thenRun(() -> {
                synchronized (this) {
                    if (c == current) {
                        unflushedWrites -= Math.min(covered, unflushedWrites);
                    }
                }
            });
        });
    }

    /**
     * Soft disconnect of the current connection; the device does not reconnect any more.
     *
     * @return completes when closed
     */
    @Override
    public CompletableFuture<Void> disconnect() {
        NbdConnection c;
        synchronized (this) {
            closed = true;
            c = current;
        }
        return c.disconnect();
    }

    /** Closes the current connection's handle at once; pending requests fail and nothing reconnects. */
    @Override
    public void close() {
        NbdConnection c;
        CompletableFuture<NbdConnection> r;
        synchronized (this) {
            closed = true;
            c = current;
            r = reconnecting;
            reconnecting = null;
        }
        if (r != null) {
            r.completeExceptionally(new NbdConnectionClosedException("the device was closed"));
        }
        c.handle().close();
    }

    // ---------------------------------------------------------------------------------------------- machinery

    private synchronized void acknowledged(NbdConnection c, boolean fua) {
        if (fua) {
            return;
        }
        if (c == current) {
            unflushedWrites++;
        } else {
            possiblyLostWrites++;
        }
    }

    private <T> CompletableFuture<T> execute(Function<NbdConnection, CompletableFuture<T>> op) {
        CompletableFuture<T> result = new CompletableFuture<>();
        attempt(op, result, 0);
        return result;
    }

    private <T> void attempt(Function<NbdConnection, CompletableFuture<T>> op, CompletableFuture<T> result,
            int retries) {
        usable().whenComplete((c, e) -> {
            if (e != null) {
                result.completeExceptionally(NegotiationHandler.unwrap(e));
                return;
            }
            CompletableFuture<T> f;
            try {
                f = op.apply(c);
            } catch (RuntimeException ex) {
                f = CompletableFuture.failedFuture(ex);
            }
            f.whenComplete((v, e2) -> {
                if (e2 == null) {
                    result.complete(v);
                    return;
                }
                Throwable cause = NegotiationHandler.unwrap(e2);
                // A stalled server (NbdClientConfig.stallTimeout) is lost too: its handle is dead, unlike after a
                // request timeout.
                boolean lost = cause instanceof NbdConnectionClosedException || cause instanceof NbdProtocolException
                        || cause instanceof NbdTimeoutException && c.handle().state() == NbdState.DEAD;
                if (!lost || isClosed()) {
                    result.completeExceptionally(cause);
                    return;
                }
                CompletableFuture<NbdConnection> next = replace(c);
                if (retries + 1 >= policy.maxAttempts()) {
                    result.completeExceptionally(cause);
                } else {
                    next.whenComplete((c2, e3) -> {
                        if (e3 != null) {
                            result.completeExceptionally(NegotiationHandler.unwrap(e3));
                        } else {
                            attempt(op, result, retries + 1);
                        }
                    });
                }
            });
        });
    }

    private synchronized boolean isClosed() {
        return closed;
    }

    /** The connection to use now: the current one, or the one being made. */
    private synchronized CompletableFuture<NbdConnection> usable() {
        if (permanentFailure != null) {
            return CompletableFuture.failedFuture(permanentFailure);
        }
        if (closed) {
            return CompletableFuture.failedFuture(new NbdConnectionClosedException("the device was closed"));
        }
        if (reconnecting != null) {
            return reconnecting;
        }
        return CompletableFuture.completedFuture(current);
    }

    /** Starts replacing {@code dead} unless that has already happened; returns the future of its successor. */
    private CompletableFuture<NbdConnection> replace(NbdConnection dead) {
        CompletableFuture<NbdConnection> r;
        synchronized (this) {
            if (current != dead || reconnecting != null || permanentFailure != null) {
                return usable();
            }
            possiblyLostWrites += unflushedWrites;
            unflushedWrites = 0;
            reconnecting = r = new CompletableFuture<>();
        }
        dead.handle().closeAsync();
        tryConnect(r, 1, null);
        return r;
    }

    private void tryConnect(CompletableFuture<NbdConnection> r, int attempt, Throwable last) {
        if (attempt > policy.maxAttempts()) {
            giveUp(r, new NbdConnectionClosedException("the connection was lost and " + policy.maxAttempts()
                    + " reconnection attempt(s) failed; the last: " + last, last));
            return;
        }
        long delay = policy.delayBefore(attempt).toNanos();
        CompletableFuture.delayedExecutor(delay, TimeUnit.NANOSECONDS).execute(() -> {
            if (isClosed()) {
                r.completeExceptionally(new NbdConnectionClosedException("the device was closed"));
                return;
            }
            connect(connector).whenComplete((c, e) -> {
                if (e != null) {
                    tryConnect(r, attempt + 1, NegotiationHandler.unwrap(e));
                    return;
                }
                String changed = difference(c);
                if (changed != null) {
                    c.handle().closeAsync();
                    giveUp(r, new NbdException("the export changed across a reconnect (" + changed
                            + "); failing every request rather than using a different export"));
                    return;
                }
                boolean keep;
                synchronized (this) {
                    keep = !closed && reconnecting == r;
                    if (keep) {
                        current = c;
                        reconnecting = null;
                        reconnects++;
                    }
                }
                if (!keep) {
                    c.handle().closeAsync();
                    r.completeExceptionally(new NbdConnectionClosedException("the device was closed"));
                    return;
                }
                r.complete(c);
            });
        });
    }

    private String difference(NbdConnection c) {
        NbdExportInfo now = c.exportInfo();
        if (now.size() != info.size()) {
            return "size was " + info.size() + " bytes, now " + now.size();
        }
        if (now.transmissionFlags() != info.transmissionFlags()) {
            return "transmission flags were " + io.nbdnetty.codec.NbdTransmissionFlags.toString(
                    info.transmissionFlags()) + ", now " + io.nbdnetty.codec.NbdTransmissionFlags.toString(
                    now.transmissionFlags());
        }
        List<String> names = contextNames(c);
        if (!names.equals(contexts)) {
            return "metadata contexts were " + contexts + ", now " + names;
        }
        return null;
    }

    private void giveUp(CompletableFuture<NbdConnection> r, Throwable cause) {
        synchronized (this) {
            if (permanentFailure == null) {
                permanentFailure = cause;
            }
            if (reconnecting == r) {
                reconnecting = null;
            }
        }
        r.completeExceptionally(cause);
    }
}
