package io.nbdnetty.client;

import io.nbdnetty.client.internal.NbdSession;
import io.nbdnetty.client.internal.Request;
import io.nbdnetty.client.internal.TransmissionHandler;
import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.codec.NbdCommandType;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * The transmission phase of a handle: every NBD command as an asynchronous call returning a {@link
 * CompletableFuture}, pipelined on one connection, replies matched by cookie in any order.
 *
 * <p>Thread-safe: commands may be issued from any thread; they are handed to the channel's event loop, written in
 * batches and flushed once per loop turn. Futures complete on the event loop; do not block in their callbacks. On a
 * Unix socket or loopback connection, while the server already has 16 or more requests to answer, new requests are
 * held back until 16 are waiting, the server's backlog shrinks, or a millisecond has passed: one write then carries
 * many of them, which saves both sides system calls and wake-ups when the server's CPU is the limit.
 *
 * <p>Flow: at most {@link NbdClientConfig#maxInFlightRequests()} requests and {@link
 * NbdClientConfig#maxInFlightBytes()} bytes are in flight; further requests wait in a local queue (nothing is dropped)
 * and {@link #awaitCapacity()} tells a producer when to go on.
 *
 * <p>Errors: a command the server fails completes with {@link NbdCommandException} and the connection carries on. A
 * server that breaks the protocol, sends garbage or vanishes fails every pending future with the same cause ({@link
 * NbdProtocolException} or {@link NbdConnectionClosedException}) and the handle goes {@link NbdState#DEAD}. A request
 * the strict mode refuses fails with {@link NbdStrictModeException} before anything is sent.
 *
 * <p>Buffers: a buffer passed to {@link #write} is owned by the connection from the call on (it is released once
 * written or failed, including when the request is refused before anything is sent). A buffer returned by {@link
 * #read(long, int)} is owned by the caller, who releases it; it is a retained slice of the socket's receive buffer
 * when the server sent the data in one piece (no copy), else a composite of the pieces. A destination buffer passed
 * to {@link #read(long, ByteBuf, int, int)} stays the caller's and is never released or retained by the connection.
 * The reply to a cancelled or timed-out read is released by the connection when it arrives.
 *
 * <p>Every command: allowed while the handle is {@link NbdState#READY} or {@link NbdState#PROCESSING}; never throws
 * for a protocol or I/O reason, but returns a future that completes exceptionally with {@link NbdCommandException}
 * (the server failed this command; the connection carries on), {@link NbdStrictModeException} (refused before
 * sending; the connection carries on), {@link NbdTimeoutException} (no reply within {@link
 * NbdClientConfig#requestTimeout()}; the connection carries on), {@link NbdConnectionClosedException} (disconnecting,
 * disconnected, closed, or the server went away) or {@link NbdProtocolException} (the server broke the protocol; the
 * handle is dead). After the connection has ended, new commands fail at once with the exception that ended it.
 * Argument errors ({@code null} buffers) throw {@link NullPointerException}.
 */
public final class NbdConnection implements NbdBlockDevice {
    private static final int READ_FLAGS = NbdCommandFlags.DF;
    private static final int WRITE_FLAGS = NbdCommandFlags.FUA;
    private static final int TRIM_FLAGS = NbdCommandFlags.FUA;
    private static final int ZERO_FLAGS = NbdCommandFlags.FUA | NbdCommandFlags.NO_HOLE | NbdCommandFlags.FAST_ZERO;
    private static final int BLOCK_STATUS_FLAGS = NbdCommandFlags.REQ_ONE;

    /**
     * Error chunks one reply may hold before the reply is taken as never ending (a protocol error): this many, plus
     * one per 512 bytes of a READ.
     */
    public static final int MAX_ERROR_CHUNKS = 1024;

    private final NbdHandle handle;
    private final NbdExportInfo info;
    private final NbdReplyStyle style;
    private final List<NbdMetaContext> contexts;
    /** The transmission phase: the pipeline's last handler and the owner of every request. */
    private final TransmissionHandler transmission;

    NbdConnection(NbdHandle handle, NbdSession session, TransmissionHandler transmission) {
        this.handle = handle;
        this.info = session.info();
        this.style = session.style();
        this.contexts = session.contexts();
        this.transmission = transmission;
    }

    /** The event loop this connection runs on. */
    EventLoop eventLoop() {
        return transmission.eventLoop();
    }

    // --------------------------------------------------------------------------------------------- information

    /**
     * Returns the handle this connection belongs to.
     *
     * @return the handle
     */
    public NbdHandle handle() {
        return handle;
    }

    /**
     * Returns what the server said about the export.
     *
     * @return the export information
     */
    @Override
    public NbdExportInfo exportInfo() {
        return info;
    }

    /**
     * Returns the export size in bytes.
     *
     * @return the size
     */
    @Override
    public long size() {
        return info.size();
    }

    /**
     * Returns the reply style in use.
     *
     * @return simple, structured or extended
     */
    public NbdReplyStyle replyStyle() {
        return style;
    }

    /**
     * Returns the metadata contexts granted for this export (block status reports on these).
     *
     * @return the contexts
     */
    public List<NbdMetaContext> metaContexts() {
        return contexts;
    }

    /**
     * Whether the server granted a metadata context (libnbd's {@code can_meta_context}).
     *
     * @param name the context name
     * @return true if granted
     */
    public boolean canMetaContext(String name) {
        return contexts.stream().anyMatch(c -> c.name().equals(name));
    }

    /**
     * Returns the number of requests sent and awaiting a reply.
     *
     * @return requests in flight
     */
    public int inFlight() {
        return transmission.inFlight();
    }

    /**
     * Returns a snapshot of the counters.
     *
     * @return the counters
     */
    public NbdStats stats() {
        return transmission.stats();
    }

    /**
     * Completes when there is room under the in-flight caps and no request is queued: a producer that waits for
     * it before each request never builds a local queue.
     *
     * @return the future (already complete if there is room); fails with the connection's failure once it has ended
     */
    public CompletableFuture<Void> awaitCapacity() {
        return transmission.awaitCapacity();
    }

    // ------------------------------------------------------------------------------------------------ commands

    /**
     * NBD_CMD_READ into a new buffer.
     *
     * <p>Allowed while the handle is ready. Errors: {@link NbdStrictModeException} if a strict-mode check refuses
     * it (nothing is sent); {@link NbdCommandException} if the server fails it (the connection carries on); {@link
     * NbdProtocolException} or {@link NbdConnectionClosedException} if the connection fails; {@link
     * NbdTimeoutException} after {@link NbdClientConfig#requestTimeout()}.
     *
     * @param offset where to read
     * @param length how many bytes
     * @return completes with the data, which the caller must release; without a copy where the server sent it in
     *     one piece, otherwise one buffer assembled from the pieces
     */
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return read(offset, length, 0);
    }

    /**
     * NBD_CMD_READ into a new buffer, with flags.
     *
     * <p>Allowed while the handle is ready. Errors: {@link NbdStrictModeException} if a strict-mode check refuses
     * it (nothing is sent); {@link NbdCommandException} if the server fails it (the connection carries on); {@link
     * NbdProtocolException} or {@link NbdConnectionClosedException} if the connection fails; {@link
     * NbdTimeoutException} after {@link NbdClientConfig#requestTimeout()}.
     *
     * @param offset where to read
     * @param length how many bytes
     * @param flags {@link NbdCommandFlags#DF} or 0
     * @return completes with the data, which the caller must release
     */
    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length, int flags) {
        return submit(new Request<>(ByteBuf.class, NbdCommandType.READ, flags, offset, length, null, null),
                READ_FLAGS);
    }

    /**
     * NBD_CMD_READ into the caller's buffer: {@code length} bytes are written at its writer index, which then
     * advances. The buffer stays the caller's; it must have room and must not be touched until the future completes.
     * On failure its contents in that range are undefined and the writer index is unchanged.
     *
     * <p>Allowed while the handle is ready. Errors: {@link NbdStrictModeException} if a strict-mode check refuses
     * it (nothing is sent); {@link NbdCommandException} if the server fails it (the connection carries on); {@link
     * NbdProtocolException} or {@link NbdConnectionClosedException} if the connection fails; {@link
     * NbdTimeoutException} after {@link NbdClientConfig#requestTimeout()}.
     *
     * @param offset where to read
     * @param destination where the data goes
     * @param length how many bytes
     * @param flags {@link NbdCommandFlags#DF} or 0
     * @return completes when the data is in the buffer
     */
    public CompletableFuture<Void> read(long offset, ByteBuf destination, int length, int flags) {
        Objects.requireNonNull(destination, "destination");
        if (destination.maxWritableBytes() < length) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("destination has room for "
                    + destination.maxWritableBytes() + " bytes, not " + length));
        }
        return submit(new Request<>(Void.class, NbdCommandType.READ, flags, offset, length, null, destination),
                READ_FLAGS);
    }

    /**
     * NBD_CMD_READ into a new buffer that completes a callback instead of a future: one callback can serve any
     * number of reads, and a read issued on the connection's event loop (from a callback or another future's
     * completion) allocates nothing, its request being reused once it has finished. Otherwise like {@link
     * #read(long, int, int)}: the same checks, errors and ordering.
     *
     * <p>The callback is called exactly once per call, on the event loop, or on the calling thread if the read fails
     * before it is queued (the connection has ended, or a strict-mode check refuses it). It owns the data it gets and
     * releases it. A read cannot be cancelled; after a {@link NbdClientConfig#requestTimeout()} the callback gets
     * {@link NbdTimeoutException} and the late reply, if any, is released by the connection.
     *
     * @param offset where to read
     * @param length how many bytes
     * @param flags {@link NbdCommandFlags#DF} or 0
     * @param callback receives the data or the error
     */
    public void read(long offset, int length, int flags, NbdReadCallback callback) {
        Objects.requireNonNull(callback, "callback");
        transmission.read(offset, length, flags, callback, READ_FLAGS);
    }

    /**
     * NBD_CMD_WRITE of the buffer's readable bytes. The connection takes ownership of the buffer.
     *
     * <p>Allowed while the handle is ready. Errors: {@link NbdStrictModeException} if a strict-mode check refuses
     * it (nothing is sent); {@link NbdCommandException} if the server fails it (the connection carries on); {@link
     * NbdProtocolException} or {@link NbdConnectionClosedException} if the connection fails; {@link
     * NbdTimeoutException} after {@link NbdClientConfig#requestTimeout()}.
     *
     * @param offset where to write
     * @param data the data (released by the connection)
     * @return completes when the server has acknowledged the write
     */
    public CompletableFuture<Void> write(long offset, ByteBuf data) {
        return write(offset, data, 0);
    }

    /**
     * NBD_CMD_WRITE with flags. The connection takes ownership of the buffer.
     *
     * <p>Allowed while the handle is ready. Errors: {@link NbdStrictModeException} if a strict-mode check refuses
     * it (nothing is sent); {@link NbdCommandException} if the server fails it (the connection carries on); {@link
     * NbdProtocolException} or {@link NbdConnectionClosedException} if the connection fails; {@link
     * NbdTimeoutException} after {@link NbdClientConfig#requestTimeout()}.
     *
     * @param offset where to write
     * @param data the data (released by the connection)
     * @param flags {@link NbdCommandFlags#FUA} or 0
     * @return completes when the server has acknowledged the write
     */
    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        Objects.requireNonNull(data, "data");
        return submit(new Request<>(Void.class, NbdCommandType.WRITE, flags, offset, data.readableBytes(), data,
                null), WRITE_FLAGS);
    }

    /**
     * NBD_CMD_FLUSH.
     *
     * <p>Allowed while the handle is ready. Errors: {@link NbdStrictModeException} if a strict-mode check refuses
     * it (nothing is sent); {@link NbdCommandException} if the server fails it (the connection carries on); {@link
     * NbdProtocolException} or {@link NbdConnectionClosedException} if the connection fails; {@link
     * NbdTimeoutException} after {@link NbdClientConfig#requestTimeout()}.
     *
     * @return completes when the server has flushed
     */
    @Override
    public CompletableFuture<Void> flush() {
        return submit(new Request<>(Void.class, NbdCommandType.FLUSH, 0, 0, 0, null, null), 0);
    }

    /**
     * NBD_CMD_TRIM.
     *
     * <p>Allowed while the handle is ready. Errors: {@link NbdStrictModeException} if a strict-mode check refuses
     * it (nothing is sent); {@link NbdCommandException} if the server fails it (the connection carries on); {@link
     * NbdProtocolException} or {@link NbdConnectionClosedException} if the connection fails; {@link
     * NbdTimeoutException} after {@link NbdClientConfig#requestTimeout()}.
     *
     * @param offset start
     * @param length length
     * @param flags {@link NbdCommandFlags#FUA} or 0
     * @return completes when done
     */
    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return submit(new Request<>(Void.class, NbdCommandType.TRIM, flags, offset, length, null, null),
                TRIM_FLAGS);
    }

    /**
     * NBD_CMD_WRITE_ZEROES.
     *
     * <p>Allowed while the handle is ready. Errors: {@link NbdStrictModeException} if a strict-mode check refuses
     * it (nothing is sent); {@link NbdCommandException} if the server fails it (the connection carries on); {@link
     * NbdProtocolException} or {@link NbdConnectionClosedException} if the connection fails; {@link
     * NbdTimeoutException} after {@link NbdClientConfig#requestTimeout()}.
     *
     * @param offset start
     * @param length length
     * @param flags {@link NbdCommandFlags#FUA}, {@link NbdCommandFlags#NO_HOLE}, {@link NbdCommandFlags#FAST_ZERO}
     * @return completes when done
     */
    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return submit(new Request<>(Void.class, NbdCommandType.WRITE_ZEROES, flags, offset, length, null, null),
                ZERO_FLAGS);
    }

    /**
     * NBD_CMD_CACHE: asks the server to prefetch a range.
     *
     * <p>Allowed while the handle is ready. Errors: {@link NbdStrictModeException} if a strict-mode check refuses
     * it (nothing is sent); {@link NbdCommandException} if the server fails it (the connection carries on); {@link
     * NbdProtocolException} or {@link NbdConnectionClosedException} if the connection fails; {@link
     * NbdTimeoutException} after {@link NbdClientConfig#requestTimeout()}.
     *
     * @param offset start
     * @param length length
     * @return completes when done
     */
    @Override
    public CompletableFuture<Void> cache(long offset, long length) {
        return submit(new Request<>(Void.class, NbdCommandType.CACHE, 0, offset, length, null, null), 0);
    }

    /**
     * NBD_CMD_BLOCK_STATUS for every granted metadata context.
     *
     * <p>Allowed while the handle is ready. Errors: {@link NbdStrictModeException} if a strict-mode check refuses
     * it (nothing is sent); {@link NbdCommandException} if the server fails it (the connection carries on); {@link
     * NbdProtocolException} or {@link NbdConnectionClosedException} if the connection fails; {@link
     * NbdTimeoutException} after {@link NbdClientConfig#requestTimeout()}.
     *
     * @param offset start
     * @param length the range of interest (the server may describe less, or with REQ_ONE exactly one extent)
     * @param flags {@link NbdCommandFlags#REQ_ONE} or 0
     * @return completes with the extents per context
     */
    @Override
    public CompletableFuture<NbdBlockStatus> blockStatus(long offset, long length, int flags) {
        return submit(new Request<>(NbdBlockStatus.class, NbdCommandType.BLOCK_STATUS, flags, offset, length,
                null, null), BLOCK_STATUS_FLAGS);
    }

    /**
     * NBD_CMD_BLOCK_STATUS for some of the granted metadata contexts only (libnbd's {@code block_status_filter}):
     * the answer has extents for exactly the contexts named, in the order they were negotiated.
     *
     * <p>When extended headers are in use and the server advertises {@link NbdExportInfo#canBlockStatusPayload()},
     * the filter goes to the server (NBD_CMD_FLAG_PAYLOAD_LEN, with the effect length and the contexts' ids as the
     * payload; proto-extended-headers.md, "NBD_CMD_BLOCK_STATUS"), which then computes and sends only those; a reply
     * that carries any other context, or one of them twice, or misses one, is a protocol error. Otherwise the request
     * goes out unfiltered, the server answers for every context as usual, and the others are dropped here: the
     * answer is the same, only dearer for the server. (libnbd instead refuses a filter without extended headers, and
     * without the flag unless strict mode is off; this call is meant to be used whether or not the server filters,
     * as {@code nbd info --map} and {@code nbd backup} do.)
     *
     * <p>Allowed while the handle is ready. Errors: as {@link #blockStatus(long, long, int)}; and, thrown at once,
     * {@link IllegalArgumentException} if {@code contexts} is empty or names a context that was not granted (nothing
     * is sent).
     *
     * @param offset start
     * @param length the range of interest (the effect length)
     * @param flags {@link NbdCommandFlags#REQ_ONE} or 0; {@link NbdCommandFlags#PAYLOAD_LEN} is set when the filter
     *     is sent, whatever the caller passes
     * @param contexts the names of the contexts wanted, each granted (see {@link #metaContexts()})
     * @return completes with the extents of the contexts wanted
     */
    @Override
    public CompletableFuture<NbdBlockStatus> blockStatus(long offset, long length, int flags,
            java.util.Set<String> contexts) {
        Objects.requireNonNull(contexts, "contexts");
        if (contexts.isEmpty()) {
            throw new IllegalArgumentException("a block status filter needs at least one metadata context");
        }
        List<NbdMetaContext> asked = new ArrayList<>(contexts.size());
        for (NbdMetaContext c : this.contexts) {
            if (contexts.contains(c.name())) {
                asked.add(c);
            }
        }
        if (asked.size() != contexts.size()) {
            List<String> unknown = new ArrayList<>(contexts);
            unknown.removeAll(asked.stream().map(NbdMetaContext::name).toList());
            throw new IllegalArgumentException("block status filter: metadata context"
                    + (unknown.size() == 1 ? " " : "s ") + String.join(", ", unknown) + " not granted by the server"
                    + (this.contexts.isEmpty() ? " (none was)" : " (granted: " + String.join(", ",
                    this.contexts.stream().map(NbdMetaContext::name).toList()) + ")"));
        }
        Request<NbdBlockStatus> r = new Request<>(NbdBlockStatus.class, NbdCommandType.BLOCK_STATUS,
                flags & ~NbdCommandFlags.PAYLOAD_LEN, offset, length, null, null);
        r.filter(List.copyOf(asked), sendsBlockStatusFilter());
        return submit(r, BLOCK_STATUS_FLAGS);
    }

    /** Whether a block status filter goes to the server: extended headers and the server's flag, both. */
    private boolean sendsBlockStatusFilter() {
        return style == NbdReplyStyle.EXTENDED && info.canBlockStatusPayload();
    }

    /**
     * Soft disconnect: new requests are refused, requests in flight complete, then NBD_CMD_DISC is sent and the
     * connection closed; the handle becomes {@link NbdState#CLOSED}.
     *
     * @return completes when the connection is closed
     */
    @Override
    public CompletableFuture<Void> disconnect() {
        return transmission.disconnect();
    }

    /**
     * Soft disconnect with a deadline: like {@link #disconnect()}, but if the requests in flight have not completed
     * within {@code timeout}, the handle is closed at once (they fail with {@link NbdConnectionClosedException}).
     *
     * @param timeout how long to wait for requests in flight
     * @return completes when the connection is closed
     */
    public CompletableFuture<Void> disconnect(java.time.Duration timeout) {
        return transmission.disconnect(timeout);
    }

    private <T> CompletableFuture<T> submit(Request<T> r, int allowedFlags) {
        return transmission.submit(r, allowedFlags);
    }
}
