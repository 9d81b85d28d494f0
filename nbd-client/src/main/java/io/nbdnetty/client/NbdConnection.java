package io.nbdnetty.client;

import io.nbdnetty.codec.NbdBlockStatusChunk;
import io.nbdnetty.codec.NbdBlockStatusPayload;
import io.nbdnetty.codec.NbdClientHandshakeDecoder;
import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.codec.NbdCommandType;
import io.nbdnetty.codec.NbdConstants;
import io.nbdnetty.codec.NbdDecoderException;
import io.nbdnetty.codec.NbdErrno;
import io.nbdnetty.codec.NbdErrorChunk;
import io.nbdnetty.codec.NbdNoneChunk;
import io.nbdnetty.codec.NbdOffsetDataChunk;
import io.nbdnetty.codec.NbdOffsetHoleChunk;
import io.nbdnetty.codec.NbdReplyChunk;
import io.nbdnetty.codec.NbdReplyDecoder;
import io.nbdnetty.codec.NbdReplyFlags;
import io.nbdnetty.codec.NbdReplyType;
import io.nbdnetty.codec.NbdRequest;
import io.nbdnetty.codec.NbdRequestEncoder;
import io.nbdnetty.codec.NbdSimpleReply;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.DomainSocketChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.LongObjectHashMap;
import io.netty.util.internal.PlatformDependent;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

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
    private static final long UNSIGNED_32 = 0xffffffffL;
    private static final int READ_FLAGS = NbdCommandFlags.DF;
    private static final int WRITE_FLAGS = NbdCommandFlags.FUA;
    private static final int TRIM_FLAGS = NbdCommandFlags.FUA;
    private static final int ZERO_FLAGS = NbdCommandFlags.FUA | NbdCommandFlags.NO_HOLE | NbdCommandFlags.FAST_ZERO;
    private static final int BLOCK_STATUS_FLAGS = NbdCommandFlags.REQ_ONE;

    private static final InternalLogger LOG = InternalLoggerFactory.getInstance(NbdConnection.class);

    private final NbdHandle handle;
    private final NbdClientConfig config;
    private final boolean debug;
    private final NbdExportInfo info;
    private final NbdReplyStyle style;
    private final List<NbdMetaContext> contexts;
    private final Map<Integer, NbdMetaContext> contextsById = new HashMap<>();
    private final Channel channel;
    private final EventLoop loop;
    private final Transmission transmission = new Transmission();
    private final CompletableFuture<Void> disconnectFuture = new CompletableFuture<>();

    // Event-loop state.
    /**
     * Requests in flight by {@link #key(long) key}, not by raw cookie: cookies are consecutive, and Netty's map
     * places consecutive keys in consecutive slots, so 64 requests in flight made one run of 64 slots that every
     * removal scanned to its end (perf: {@code removeAt} was 1.8% of the event loop at 4K QD64).
     */
    private final LongObjectHashMap<Request> inFlightMap = new LongObjectHashMap<>();
    /** See {@link #holdBack()}. */
    static final int HOLD_BACKLOG = 16;
    /** See {@link #holdBack()}. */
    static final int HOLD_MAX = 16;
    /** The longest that written requests are held back. */
    static final long HOLD_NANOS = 1_000_000;
    private boolean holdTimerSet;
    private final ArrayDeque<Request> queue = new ArrayDeque<>();
    /** The timer of {@link #sweepTimeouts} while one is scheduled, else null (cancelled when the connection ends). */
    private io.netty.util.concurrent.ScheduledFuture<?> sweepTimer;
    private final Runnable sweepTask = this::sweepTimeouts;
    /** The timer of {@link #checkStall} while one is scheduled, else null. */
    private io.netty.util.concurrent.ScheduledFuture<?> stallTimer;
    private final Runnable stallTask = this::checkStall;
    /** Checks per stall timeout (see {@link #checkStall}). */
    private static final int STALL_CHECKS = 8;
    /** The reply decoder, once installed (its byte count is the stall timer's measure of progress). */
    private NbdReplyDecoder replyDecoder;
    /** The decoder's byte count at the last stall check that saw it change. */
    private long stallBytes;
    /** Stall checks in a row that saw no new byte, since then or since a request ended an idle spell. */
    private int quietChecks;
    /** Requests and other work from other threads, on their way to the event loop: see {@link #handOver}. */
    private final Queue<Object> incoming = PlatformDependent.newMpscQueue();
    private final AtomicBoolean drainQueued = new AtomicBoolean();
    /** Finished callback reads, for reuse; event loop only. */
    private final ArrayDeque<Request.CallbackRead> readPool = new ArrayDeque<>();
    private final List<CompletableFuture<Void>> capacityWaiters = new ArrayList<>();
    private long nextCookie = 1;
    private long inFlightBytes;
    private boolean flushScheduled;
    /** Requests written but not flushed yet, waiting for the end of a read or {@link #holdBack()}. */
    private boolean flushPending;
    /** How many requests are written but not flushed. */
    private int unflushed;
    /** The busy-poll strategy of this connection's loop, told when replies are awaited; null on other groups. */
    private final NbdEventLoops.BusyPollStrategy pollStrategy;
    /** Whether {@link #pollStrategy} counts this connection as awaiting replies (it has requests in flight). */
    private boolean awaitingCounted;
    /** Whether the server is local: see {@link #holdBack()}. */
    private final boolean local;
    private boolean reading;
    private boolean fromOtherThread;
    private boolean disconnecting;
    private boolean closedNotified;
    /** Why the connection ended; written on the event loop, read anywhere. */
    private volatile Throwable failure;

    // Counters: written on the event loop only, read anywhere.
    private volatile int inFlight;
    private volatile int queued;
    private volatile long bytesSent;
    private volatile long bytesReceived;
    private volatile long requestsSent;
    private volatile long chunksReceived;
    private volatile long requestsCompleted;
    private volatile long requestsFailed;

    NbdConnection(NbdHandle handle, NbdClientConfig config, NbdExportInfo info, NbdReplyStyle style,
            List<NbdMetaContext> contexts, Channel channel) {
        this.handle = handle;
        this.config = config;
        this.debug = config.debug() && LOG.isDebugEnabled();
        this.info = info;
        this.style = style;
        this.contexts = List.copyOf(contexts);
        for (NbdMetaContext c : contexts) {
            contextsById.put(c.id(), c);
        }
        this.channel = channel;
        this.loop = channel.eventLoop();
        this.local = isLocal(channel);
        this.pollStrategy = loop.inEventLoop() ? NbdEventLoops.BusyPollStrategy.current() : null;
    }

    /** The event loop this connection runs on. */
    EventLoop eventLoop() {
        return loop;
    }

    /** Whether the channel is a Unix socket or a loopback connection. */
    static boolean isLocal(Channel channel) {
        if (channel instanceof DomainSocketChannel) {
            return true;
        }
        SocketAddress remote = channel.remoteAddress();
        return remote instanceof DomainSocketAddress || remote instanceof UnixDomainSocketAddress
                || remote instanceof InetSocketAddress i && i.getAddress() != null
                && i.getAddress().isLoopbackAddress();
    }

    /** Replaces the handshake handlers with the transmission ones; on the event loop, inside the handshake. */
    void install(ChannelPipeline pipeline, NbdClientHandshakeDecoder handshakeDecoder) {
        boolean extended = style == NbdReplyStyle.EXTENDED;
        pipeline.replace("nbd-handshake", "nbd-transmission", transmission);
        pipeline.replace("nbd-handshake-encoder", "nbd-request-encoder", new NbdRequestEncoder(extended));
        // Replacing the decoder last hands any bytes it still holds to the reply decoder.
        replyDecoder = new NbdReplyDecoder(extended, this::simpleReplyDataLength, config.maxReplyPayloadLength(),
                transmission).maxBlockStatusDescriptors(config.maxBlockStatusExtents());
        pipeline.replace(handshakeDecoder, "nbd-reply-decoder", replyDecoder);
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
        if (failure != null || inFlightMap.isEmpty()) {
            return;
        }
        long received = replyDecoder == null ? 0 : replyDecoder.bytesReceived();
        if (received != stallBytes) {
            stallBytes = received;
            quietChecks = 0;
        } else if (++quietChecks > STALL_CHECKS) {
            handle.fail(new NbdTimeoutException("no reply from the server for "
                    + NbdDurations.inWords(config.stallTimeout()) + " (" + inFlightMap.size()
                    + " request(s) waiting)"));
            return;
        }
        scheduleStallCheck();
    }

    private void scheduleStallCheck() {
        stallTimer = loop.schedule(stallTask, Math.max(1, config.stallTimeout().toNanos() / STALL_CHECKS),
                TimeUnit.NANOSECONDS);
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
        return inFlight;
    }

    /**
     * Returns a snapshot of the counters.
     *
     * @return the counters
     */
    public NbdStats stats() {
        return new NbdStats(bytesSent, bytesReceived, requestsSent, chunksReceived, requestsCompleted,
                requestsFailed, inFlight, queued);
    }

    /**
     * Completes when there is room under the in-flight caps and no request is queued: a producer that waits for
     * it before each request never builds a local queue.
     *
     * @return the future (already complete if there is room); fails with the connection's failure once it has ended
     */
    public CompletableFuture<Void> awaitCapacity() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        runOnLoop(() -> {
            if (failure != null) {
                f.completeExceptionally(failure);
            } else if (hasRoom(0)) {
                f.complete(null);
            } else {
                capacityWaiters.add(f);
            }
        });
        return f;
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
    @SuppressWarnings("unchecked")
    public CompletableFuture<ByteBuf> read(long offset, int length, int flags) {
        return (CompletableFuture<ByteBuf>) (CompletableFuture<?>) submit(
                new Request(NbdCommandType.READ, flags, offset, length, null, null), READ_FLAGS);
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
    @SuppressWarnings("unchecked")
    public CompletableFuture<Void> read(long offset, ByteBuf destination, int length, int flags) {
        Objects.requireNonNull(destination, "destination");
        if (destination.maxWritableBytes() < length) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("destination has room for "
                    + destination.maxWritableBytes() + " bytes, not " + length));
        }
        return (CompletableFuture<Void>) (CompletableFuture<?>) submit(
                new Request(NbdCommandType.READ, flags, offset, length, null, destination), READ_FLAGS);
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
        Request.CallbackRead r = loop.inEventLoop() ? readPool.pollLast() : null;
        if (r != null) {
            r.reuse(offset, length, flags, callback);
        } else {
            r = new Request.CallbackRead(offset, length, flags, callback);
        }
        submit(r, READ_FLAGS);
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
    @SuppressWarnings("unchecked")
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        Objects.requireNonNull(data, "data");
        return (CompletableFuture<Void>) (CompletableFuture<?>) submit(
                new Request(NbdCommandType.WRITE, flags, offset, data.readableBytes(), data, null), WRITE_FLAGS);
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
    @SuppressWarnings("unchecked")
    public CompletableFuture<Void> flush() {
        return (CompletableFuture<Void>) (CompletableFuture<?>) submit(
                new Request(NbdCommandType.FLUSH, 0, 0, 0, null, null), 0);
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
    @SuppressWarnings("unchecked")
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return (CompletableFuture<Void>) (CompletableFuture<?>) submit(
                new Request(NbdCommandType.TRIM, flags, offset, length, null, null), TRIM_FLAGS);
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
    @SuppressWarnings("unchecked")
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return (CompletableFuture<Void>) (CompletableFuture<?>) submit(
                new Request(NbdCommandType.WRITE_ZEROES, flags, offset, length, null, null), ZERO_FLAGS);
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
    @SuppressWarnings("unchecked")
    public CompletableFuture<Void> cache(long offset, long length) {
        return (CompletableFuture<Void>) (CompletableFuture<?>) submit(
                new Request(NbdCommandType.CACHE, 0, offset, length, null, null), 0);
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
    @SuppressWarnings("unchecked")
    public CompletableFuture<NbdBlockStatus> blockStatus(long offset, long length, int flags) {
        return (CompletableFuture<NbdBlockStatus>) (CompletableFuture<?>) submit(
                new Request(NbdCommandType.BLOCK_STATUS, flags, offset, length, null, null), BLOCK_STATUS_FLAGS);
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
    @SuppressWarnings("unchecked")
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
        Request r = new Request(NbdCommandType.BLOCK_STATUS, flags & ~NbdCommandFlags.PAYLOAD_LEN, offset, length,
                null, null);
        r.a().asked = List.copyOf(asked);
        r.a().filterSent = sendsBlockStatusFilter();
        return (CompletableFuture<NbdBlockStatus>) (CompletableFuture<?>) submit(r, BLOCK_STATUS_FLAGS);
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
        runOnLoop(() -> {
            if (failure != null) {
                disconnectFuture.complete(null);
                return;
            }
            disconnecting = true;
            maybeSendDisconnect();
        });
        return disconnectFuture;
    }

    /**
     * Soft disconnect with a deadline: like {@link #disconnect()}, but if the requests in flight have not completed
     * within {@code timeout}, the handle is closed at once (they fail with {@link NbdConnectionClosedException}).
     *
     * @param timeout how long to wait for requests in flight
     * @return completes when the connection is closed
     */
    public CompletableFuture<Void> disconnect(java.time.Duration timeout) {
        CompletableFuture<Void> f = disconnect();
        runOnLoop(() -> {
            if (!f.isDone()) {
                io.netty.util.concurrent.ScheduledFuture<?> t = loop.schedule(() -> {
                    if (!f.isDone()) {
                        handle.closeAsync();
                    }
                }, timeout.toNanos(), TimeUnit.NANOSECONDS);
                f.whenComplete((v, e) -> t.cancel(false));
            }
        });
        return f;
    }

    // --------------------------------------------------------------------------------------------- submission

    private CompletableFuture<Object> submit(Request r, int allowedFlags) {
        Throwable ended = failure;
        if (ended != null) {
            // The connection is over: say so, rather than what a strict-mode check would say about the request.
            failEarly(r, ended);
            return r;
        }
        NbdException refused = check(r, allowedFlags);
        if (refused != null) {
            failEarly(r, refused);
            return r;
        }
        if (loop.inEventLoop()) {
            enqueue(r);
        } else {
            handOver(r);
        }
        return r;
    }

    /**
     * Passes a request, or any other work ({@link #runOnLoop}), from another thread to the event loop: through
     * {@link #incoming}, with at most one drain task queued at a time, so a burst of requests from other threads
     * costs one task and no allocation per request. One queue for both keeps each thread's order: a request issued
     * after {@code disconnect()} is refused, one issued before it goes out first.
     */
    private void handOver(Object requestOrTask) {
        incoming.offer(requestOrTask);
        if (!drainQueued.get() && drainQueued.compareAndSet(false, true)) {
            try {
                loop.execute(drainIncoming);
            } catch (RejectedExecutionException e) {
                // The event loop is gone with the handle: nothing else runs there any more.
                drainIncoming.run();
            }
        }
    }

    private final Runnable drainIncoming = () -> {
        // Cleared first: anything offered from here on either is polled below or queues the next drain.
        drainQueued.set(false);
        Object next;
        while ((next = incoming.poll()) != null) {
            if (next instanceof Request r) {
                fromOtherThread = true;
                try {
                    enqueue(r);
                } finally {
                    fromOtherThread = false;
                }
            } else {
                ((Runnable) next).run();
            }
        }
    };

    private void runOnLoop(Runnable task) {
        if (loop.inEventLoop()) {
            task.run();
        } else {
            handOver(task);
        }
    }

    /** Strict-mode and encoding checks, on the caller's thread; null if the request may go. */
    private NbdException check(Request r, int allowedFlags) {
        int strict = config.strictMode();
        NbdCommandType t = r.type;
        boolean compact = style != NbdReplyStyle.EXTENDED;
        if ((r.flags & ~0xffff) != 0) {
            return new NbdStrictModeException(NbdStrict.FLAGS, "command flags must fit 16 bits: 0x"
                    + Integer.toHexString(r.flags));
        }
        if ((r.flags & NbdCommandFlags.PAYLOAD_LEN) != 0 && (compact || !t.equals(NbdCommandType.WRITE))) {
            // Framing, not a request option: with it the server reads `length` bytes of payload after the header,
            // which no request but an extended WRITE carries here (the client sets it there itself). Sent anyway it
            // would desynchronise the stream, so it is refused whatever the strict mode.
            return new NbdStrictModeException(NbdStrict.FLAGS, t + " does not take NBD_CMD_FLAG_PAYLOAD_LEN"
                    + (compact ? " (it exists only with extended headers)" : " (the client sets it on WRITE itself)"));
        }
        if (r.length < 0 || r.offset < 0) {
            return new NbdStrictModeException(NbdStrict.BOUNDS, t + " offset and length must not be negative");
        }
        if (compact && r.length > UNSIGNED_32) {
            return new NbdStrictModeException(NbdStrict.BOUNDS, t + " length " + r.length
                    + " does not fit 32 bits without extended headers");
        }
        if (t.equals(NbdCommandType.READ) && r.length + 8 > config.maxReplyPayloadLength()) {
            // Its reply could arrive as one chunk (or one simple reply) larger than the decoder accepts, which would
            // kill the connection and every other request on it: refuse it here, whatever the strict mode.
            return new NbdStrictModeException(NbdStrict.PAYLOAD, "READ of " + r.length + " bytes exceeds "
                    + "maxReplyPayloadLength (" + config.maxReplyPayloadLength() + ", less 8 bytes of chunk "
                    + "header); split the request or raise the limit");
        }
        if ((strict & NbdStrict.FLAGS) != 0 && (r.flags & ~allowedFlags) != 0) {
            return new NbdStrictModeException(NbdStrict.FLAGS, t + " does not take flags "
                    + NbdCommandFlags.toString(r.flags & ~allowedFlags));
        }
        if ((strict & NbdStrict.COMMANDS) != 0) {
            String missing = unsupported(r);
            if (missing != null) {
                return new NbdStrictModeException(NbdStrict.COMMANDS, missing);
            }
        }
        if (t.equals(NbdCommandType.FLUSH)) {
            return null;
        }
        if ((strict & NbdStrict.ZERO_SIZE) != 0 && r.length == 0) {
            return new NbdStrictModeException(NbdStrict.ZERO_SIZE, t + " with length 0");
        }
        if ((strict & NbdStrict.BOUNDS) != 0 && (r.offset > info.size() || r.length > info.size() - r.offset)) {
            return new NbdStrictModeException(NbdStrict.BOUNDS, t + " of " + r.length + " bytes at offset "
                    + r.offset + " goes beyond the end of the export (" + info.size() + " bytes)");
        }
        if ((strict & NbdStrict.ALIGN) != 0 && info.blockSizeAdvertised()) {
            long min = info.minimumBlockSize();
            if (r.offset % min != 0 || r.length % min != 0) {
                return new NbdStrictModeException(NbdStrict.ALIGN, t + " at offset " + r.offset + " length "
                        + r.length + " is not aligned to the server's minimum block size " + min);
            }
        }
        if ((strict & NbdStrict.PAYLOAD) != 0 && (t.equals(NbdCommandType.READ) || t.equals(NbdCommandType.WRITE))
                && r.length > info.maximumBlockSize()) {
            return new NbdStrictModeException(NbdStrict.PAYLOAD, t + " of " + r.length
                    + " bytes exceeds the server's maximum block size " + info.maximumBlockSize()
                    + "; split the request");
        }
        return null;
    }

    /** Returns why the server does not support this request, or null if it does. */
    private String unsupported(Request r) {
        NbdCommandType t = r.type;
        boolean writes = t.equals(NbdCommandType.WRITE) || t.equals(NbdCommandType.TRIM)
                || t.equals(NbdCommandType.WRITE_ZEROES);
        if (writes && info.isReadOnly()) {
            return t + " on a read-only export";
        }
        if (t.equals(NbdCommandType.FLUSH) && !info.canFlush()) {
            return "the server does not support NBD_CMD_FLUSH";
        }
        if (t.equals(NbdCommandType.TRIM) && !info.canTrim()) {
            return "the server does not support NBD_CMD_TRIM";
        }
        if (t.equals(NbdCommandType.WRITE_ZEROES) && !info.canZero()) {
            return "the server does not support NBD_CMD_WRITE_ZEROES";
        }
        if (t.equals(NbdCommandType.CACHE) && !info.canCache()) {
            return "the server does not support NBD_CMD_CACHE";
        }
        if (t.equals(NbdCommandType.BLOCK_STATUS) && contexts.isEmpty()) {
            return "NBD_CMD_BLOCK_STATUS needs a metadata context, and none was negotiated";
        }
        if ((r.flags & NbdCommandFlags.FUA) != 0 && !info.canFua()) {
            return "the server does not support the FUA flag";
        }
        if ((r.flags & NbdCommandFlags.DF) != 0 && (!info.canDf() || style == NbdReplyStyle.SIMPLE)) {
            return "the server does not support the DF flag";
        }
        if ((r.flags & NbdCommandFlags.FAST_ZERO) != 0 && !info.canFastZero()) {
            return "the server does not support the FAST_ZERO flag";
        }
        return null;
    }

    private boolean hasRoom(long bytes) {
        return queue.isEmpty() && inFlight < config.maxInFlightRequests()
                && (inFlight == 0 || inFlightBytes + bytes <= config.maxInFlightBytes());
    }

    private void enqueue(Request r) {
        if (failure != null) {
            failEarly(r, failure);
            return;
        }
        if (disconnecting) {
            failEarly(r, new NbdConnectionClosedException("the connection is disconnecting; no new requests"));
            return;
        }
        if (hasRoom(r.bytes())) {
            send(r);
        } else {
            queue.add(r);
            queued = queue.size();
        }
    }

    private void send(Request r) {
        r.cookie = nextCookie++;
        inFlightMap.put(key(r.cookie), r);
        inFlight = inFlightMap.size();
        inFlightBytes += r.bytes();
        if (!awaitingCounted && pollStrategy != null) {
            awaitingCounted = true;
            pollStrategy.awaitingReplies(true);
        }
        boolean extended = style == NbdReplyStyle.EXTENDED;
        ByteBuf payload = null;
        int flags = r.flags;
        if (r.type.equals(NbdCommandType.WRITE)) {
            payload = r.takePayload();
            if (extended) {
                flags |= NbdCommandFlags.PAYLOAD_LEN;
            }
        } else if (r.type.equals(NbdCommandType.BLOCK_STATUS) && r.filterSent()) {
            payload = blockStatusFilter(r);
            flags |= NbdCommandFlags.PAYLOAD_LEN;
        }
        int payloadLength = payload == null ? 0 : payload.readableBytes();
        // With PAYLOAD_LEN the header's length is the payload's; a filtered block status carries its effect length
        // in the payload (for WRITE the two are the same).
        long lengthField = (flags & NbdCommandFlags.PAYLOAD_LEN) != 0 ? payloadLength : r.length;
        bytesSent += (extended ? NbdConstants.EXTENDED_REQUEST_HEADER_LENGTH : NbdConstants.REQUEST_HEADER_LENGTH)
                + payloadLength;
        requestsSent++;
        if (!config.stallTimeout().isZero()) {
            if (inFlightMap.size() == 1) {
                // The first request after an idle spell: the server had no reason to send anything until now.
                quietChecks = 0;
            }
            if (stallTimer == null) {
                scheduleStallCheck();
            }
        }
        boolean timed = !config.requestTimeout().isZero();
        if (timed || config.listener() != null) {
            // Only then: the request stays smaller without (it is allocated per request).
            Request.Timing t = r.timing();
            t.sentNanos = System.nanoTime();
            t.expired = false;
            if (timed && sweepTimer == null) {
                scheduleSweep(config.requestTimeout().toNanos());
            }
        }
        if (debug) {
            LOG.debug("{}: send {} flags={} cookie={} offset={} length={}{}", channel, r.type,
                    NbdCommandFlags.toString(flags), r.cookie, r.offset, r.length,
                    payload == null ? "" : " payload=" + payloadLength);
        }
        // The header goes out as a buffer of its own (no NbdRequest message per request), a small payload copied
        // into it as the encoder would; with the void promise (no promise object per request): a failed write is
        // fired through the pipeline to Transmission.exceptionCaught, which fails the handle as a listener would.
        boolean copy = payload != null && payloadLength <= NbdRequestEncoder.COPY_THRESHOLD;
        ByteBuf header;
        try {
            header = NbdRequestEncoder.encodeHeader(channel.alloc(), flags, r.type, r.cookie, r.offset, lengthField,
                    extended, copy ? payloadLength : 0);
        } catch (RuntimeException e) {
            if (payload != null) {
                payload.release();
            }
            handle.fail(new NbdConnectionClosedException("could not send a request: " + NbdErrors.inWords(e), e));
            return;
        }
        if (copy) {
            header.writeBytes(payload, payload.readerIndex(), payloadLength);
            payload.release();
            payload = null;
        }
        channel.write(header, channel.voidPromise());
        if (payload != null) {
            channel.write(payload, channel.voidPromise());
        }
        requestFlush();
    }

    /** The payload of a filtered block status: its effect length and the ids of the contexts asked for. */
    private ByteBuf blockStatusFilter(Request r) {
        List<NbdMetaContext> asked = r.a().asked;
        int[] ids = new int[asked.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = asked.get(i).id();
        }
        return new NbdBlockStatusPayload(r.length, ids).encode(channel.alloc());
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
    private void requestFlush() {
        unflushed++;
        if (reading) {
            flushPending = true;
        } else if (holdBack()) {
            hold();
        } else if (fromOtherThread) {
            scheduleFlush();
        } else {
            flushNow();
        }
    }

    private void flushNow() {
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
    private boolean holdBack() {
        return local && unflushed < HOLD_MAX && inFlight - unflushed >= HOLD_BACKLOG;
    }

    /** Holds the written requests back; at most {@link #HOLD_NANOS} (a server slow on all it has). */
    private void hold() {
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

    private void drainQueue() {
        while (!queue.isEmpty() && failure == null) {
            Request next = queue.peek();
            boolean room = inFlight < config.maxInFlightRequests()
                    && (inFlight == 0 || inFlightBytes + next.bytes() <= config.maxInFlightBytes());
            if (!room) {
                break;
            }
            queue.poll();
            send(next);
        }
        queued = queue.size();
        if (queue.isEmpty() && !capacityWaiters.isEmpty() && hasRoom(0)) {
            List<CompletableFuture<Void>> waiters = new ArrayList<>(capacityWaiters);
            capacityWaiters.clear();
            waiters.forEach(w -> w.complete(null));
        }
        maybeSendDisconnect();
    }

    private void maybeSendDisconnect() {
        if (!disconnecting || !inFlightMap.isEmpty() || !queue.isEmpty() || failure != null) {
            return;
        }
        if (!channel.isActive()) {
            handle.markClosed();
            disconnectFuture.complete(null);
            return;
        }
        handle.markClosed();
        failure = new NbdConnectionClosedException("the connection was disconnected");
        NbdRequest disc = new NbdRequest(0, NbdCommandType.DISC, nextCookie++, 0, 0);
        channel.writeAndFlush(disc).addListener((ChannelFutureListener) f -> channel.close());
        channel.closeFuture().addListener(f -> disconnectFuture.complete(null));
    }

    // ------------------------------------------------------------------------------------------------- replies

    /** Spreads consecutive cookies over the map (a bijection, so distinct cookies keep distinct keys). */
    private static long key(long cookie) {
        return cookie * 0x9E3779B97F4A7C15L;
    }

    private long simpleReplyDataLength(long cookie) {
        Request r = inFlightMap.get(key(cookie));
        if (r == null) {
            return -1;
        }
        return r.type.equals(NbdCommandType.READ) ? r.length : 0;
    }

    /** Fails every request in flight or queued; from the handle, on any thread. */
    void failAll(Throwable cause) {
        runOnLoop(() -> failAllOnLoop(cause));
    }

    private void failAllOnLoop(Throwable cause) {
        if (failure == null || failure instanceof NbdConnectionClosedException && disconnecting) {
            failure = cause;
        }
        if (sweepTimer != null) {
            // Nothing left to time out; on a caller's shared group the timer would keep this connection until it ran.
            sweepTimer.cancel(false);
            sweepTimer = null;
        }
        if (stallTimer != null) {
            stallTimer.cancel(false);
            stallTimer = null;
        }
        List<Request> all = new ArrayList<>(inFlightMap.values());
        all.sort(Comparator.comparingLong(r -> r.cookie)); // fail them in the order they were sent
        all.addAll(queue);
        if (awaitingCounted) {
            awaitingCounted = false;
            pollStrategy.awaitingReplies(false);
        }
        inFlightMap.clear();
        queue.clear();
        inFlight = 0;
        queued = 0;
        inFlightBytes = 0;
        for (Request r : all) {
            r.releaseAll();
            failFuture(r, cause);
            recycle(r);
        }
        if (!closedNotified) {
            closedNotified = true;
            NbdListener l = config.listener();
            if (l != null) {
                try {
                    l.connectionClosed(cause);
                } catch (RuntimeException e) {
                    LOG.warn("NbdListener threw", e);
                }
            }
        }
        List<CompletableFuture<Void>> waiters = new ArrayList<>(capacityWaiters);
        capacityWaiters.clear();
        waiters.forEach(w -> w.completeExceptionally(cause));
        disconnectFuture.complete(null);
    }

    private void complete(Request r, Object value) {
        finish(r);
        if (delivered(r)) {
            // Cancelled or timed out by the caller: the reply is dropped here, never leaked.
            ReferenceCountUtil.safeRelease(value);
            recycle(r);
            return;
        }
        // Counted and reported before the future completes: its callbacks (run inline) see the stats and the
        // listener's metrics include it.
        requestsCompleted++;
        notifyListener(r, null);
        if (r instanceof Request.CallbackRead c) {
            c.delivered = true;
            callBack(c, (ByteBuf) value, null);
            recycle(c);
        } else if (!r.complete(value)) {
            requestsCompleted--;
            ReferenceCountUtil.safeRelease(value);
        }
    }

    /** Whether the request's caller has had its answer (a future done, a callback called). */
    private static boolean delivered(Request r) {
        return r instanceof Request.CallbackRead c ? c.delivered : r.isDone();
    }

    /** Fails the request's future or calls its callback, unless already done; the request stays where it is. */
    private void failFuture(Request r, Throwable cause) {
        if (delivered(r)) {
            return;
        }
        requestsFailed++;
        notifyListener(r, cause);
        if (r instanceof Request.CallbackRead c) {
            c.delivered = true;
            callBack(c, null, cause);
        } else if (!r.completeExceptionally(cause)) {
            requestsFailed--;
        }
    }

    /** Fails a request that was never queued or sent (not counted, not reported to the listener). */
    private void failEarly(Request r, Throwable cause) {
        r.releaseAll();
        if (r instanceof Request.CallbackRead c) {
            c.delivered = true;
            callBack(c, null, cause);
            recycle(c);
        } else {
            r.completeExceptionally(cause);
        }
    }

    private void callBack(Request.CallbackRead c, ByteBuf data, Throwable error) {
        try {
            c.callback.readCompleted(c.offset, (int) c.length, data, error);
        } catch (RuntimeException e) {
            LOG.warn("NbdReadCallback threw", e);
        }
    }

    /**
     * Puts a finished callback read back in the pool: only once nothing refers to it any more, i.e. it is out of
     * the in-flight map (so no reply can reach it: a late reply carries a cookie no longer in the map) and out of
     * the queue, its timer cancelled or run, and its callback called. Futures are never reused.
     */
    private void recycle(Request r) {
        if (r instanceof Request.CallbackRead c && c.delivered && loop.inEventLoop()
                && readPool.size() < config.maxInFlightRequests()) {
            c.releaseAll();
            c.clear();
            readPool.addLast(c);
        }
    }

    private void completeExceptionally(Request r, Throwable cause) {
        finish(r);
        r.releaseAll();
        failFuture(r, cause);
        recycle(r);
        if (cause instanceof NbdCommandException c && c.error().equals(NbdErrno.ESHUTDOWN)) {
            // The spec: a client that receives ESHUTDOWN must initiate a soft disconnect.
            disconnecting = true;
        }
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
        if (failure != null || inFlightMap.isEmpty()) {
            return;
        }
        long timeout = config.requestTimeout().toNanos();
        long now = System.nanoTime();
        long next = Long.MAX_VALUE;
        List<Request> expired = null;
        for (Request r : inFlightMap.values()) {
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
            for (Request r : expired) {
                timedOut(r);
            }
        }
    }

    /** The request's timeout passed: fail its future; the request stays in flight until its late reply. */
    private void timedOut(Request r) {
        NbdTimeoutException e = new NbdTimeoutException(r.type + " at offset " + r.offset + " got no reply within "
                + NbdDurations.inWords(config.requestTimeout()));
        failFuture(r, e);
    }

    private void notifyListener(Request r, Throwable error) {
        NbdListener l = config.listener();
        if (l != null) {
            try {
                long sent = r.sentNanos();
                l.requestCompleted(r.type, r.offset, r.length, sent == 0 ? 0 : System.nanoTime() - sent, error);
            } catch (RuntimeException e) {
                LOG.warn("NbdListener threw", e);
            }
        }
        if (debug) {
            LOG.debug("{}: {} cookie {} {}", channel, r.type, r.cookie, error == null ? "done" : "failed: " + error);
        }
    }

    private void finish(Request r) {
        inFlightMap.remove(key(r.cookie));
        inFlight = inFlightMap.size();
        inFlightBytes -= r.bytes();
        if (inFlight == 0 && awaitingCounted) {
            awaitingCounted = false;
            pollStrategy.awaitingReplies(false);
        }
        drainQueue();
    }

    /** A simple reply; data (empty if none) stays the caller's. */
    private void onSimpleReply(long cookie, NbdErrno error, ByteBuf data) throws NbdProtocolException {
        bytesReceived += NbdConstants.SIMPLE_REPLY_HEADER_LENGTH + data.readableBytes();
        chunksReceived++;
        Request r = inFlightMap.get(key(cookie));
        if (r == null) {
            throw new NbdProtocolException("simple reply for unknown cookie " + Long.toUnsignedString(cookie));
        }
        if (r.chunks > 0) {
            throw new NbdProtocolException("simple reply to " + r.type + " (cookie " + r.cookie
                    + ") in the middle of its structured reply");
        }
        if (style != NbdReplyStyle.SIMPLE && r.type.equals(NbdCommandType.READ)) {
            throw new NbdProtocolException("simple reply to NBD_CMD_READ (cookie " + r.cookie
                    + ") although structured replies were negotiated");
        }
        if (!error.equals(NbdErrno.OK)) {
            completeExceptionally(r, new NbdCommandException(r.type, error, "", -1));
            return;
        }
        if (r.type.equals(NbdCommandType.BLOCK_STATUS)) {
            throw new NbdProtocolException("successful simple reply to NBD_CMD_BLOCK_STATUS (cookie " + r.cookie
                    + "): block status needs one chunk per context");
        }
        if (r.type.equals(NbdCommandType.READ)) {
            if (r.destination() != null) {
                r.destination().writeBytes(data, data.readerIndex(), data.readableBytes());
                complete(r, null);
            } else {
                complete(r, data.retain());
            }
            return;
        }
        complete(r, null);
    }

    /** Counts a chunk and finds its request, with the checks every chunk passes. */
    private Request chunkRequest(NbdReplyType type, long cookie, long headerOffset, long payloadLength)
            throws NbdProtocolException {
        bytesReceived += (style == NbdReplyStyle.EXTENDED ? NbdConstants.EXTENDED_REPLY_HEADER_LENGTH
                : NbdConstants.STRUCTURED_REPLY_HEADER_LENGTH) + payloadLength;
        chunksReceived++;
        Request r = inFlightMap.get(key(cookie));
        if (style == NbdReplyStyle.SIMPLE) {
            throw new NbdProtocolException("structured reply chunk " + type
                    + " although structured replies were not negotiated");
        }
        if (r == null) {
            throw new NbdProtocolException(type + " chunk for unknown cookie "
                    + Long.toUnsignedString(cookie) + " (no request in flight, or its reply was done)");
        }
        r.chunks++;
        if (style == NbdReplyStyle.EXTENDED && headerOffset != r.offset) {
            throw new NbdProtocolException(type + " chunk for cookie " + r.cookie + " echoes offset "
                    + Long.toUnsignedString(headerOffset) + ", but the request was at " + r.offset);
        }
        return r;
    }

    /** An NBD_REPLY_TYPE_OFFSET_DATA chunk; data stays the caller's. */
    private void onOffsetData(int flags, long cookie, long headerOffset, long offset, ByteBuf data)
            throws NbdProtocolException {
        int size = data.readableBytes();
        Request r = chunkRequest(NbdReplyType.OFFSET_DATA, cookie, headerOffset, 8L + size);
        boolean done = (flags & NbdReplyFlags.DONE) != 0;
        if (r.chunks == 1 && done && offset == r.offset && size == r.length
                && r.type.equals(NbdCommandType.READ) && r.destination() == null) {
            // The common case, one chunk with all the data: hand over its slice without any bookkeeping.
            complete(r, data.retain());
            return;
        }
        content(r, offset, size, NbdReplyType.OFFSET_DATA, data);
        if (done) {
            done(r);
        }
    }

    private void onChunk(NbdReplyChunk chunk) throws NbdProtocolException {
        if (chunk instanceof NbdOffsetDataChunk d) {
            onOffsetData(d.flags(), d.cookie(), d.headerOffset(), d.offset(), d.data());
            return;
        }
        if (chunk instanceof NbdNoneChunk) {
            onNone(chunk.flags(), chunk.cookie(), chunk.headerOffset());
            return;
        }
        Request r = chunkRequest(chunk.type(), chunk.cookie(), chunk.headerOffset(), chunk.payloadLength());
        if (chunk instanceof NbdOffsetHoleChunk h) {
            long size = Integer.toUnsignedLong(h.holeSize());
            if (size == 0) {
                throw new NbdProtocolException("NBD_REPLY_TYPE_OFFSET_HOLE of size 0 (cookie " + r.cookie + ")");
            }
            content(r, h.offset(), size, chunk.type(), null);
        } else if (chunk instanceof NbdBlockStatusChunk b) {
            blockStatusChunk(r, b);
        } else if (chunk instanceof NbdErrorChunk e) {
            errorChunk(r, e);
        }
        if (chunk.isDone()) {
            done(r);
        }
    }

    /** An {@code NBD_REPLY_TYPE_NONE} chunk: it must end its reply. */
    private void onNone(int flags, long cookie, long headerOffset) throws NbdProtocolException {
        Request r = chunkRequest(NbdReplyType.NONE, cookie, headerOffset, 0);
        if ((flags & NbdReplyFlags.DONE) == 0) {
            throw new NbdProtocolException("NBD_REPLY_TYPE_NONE without the DONE flag (cookie " + r.cookie + ")");
        }
        done(r);
    }

    /**
     * Takes a content chunk of a READ reply: checks it lies within the request and overlaps nothing before it, and
     * puts its bytes in place. The first chunk is kept as it came (its data retained, without a copy); from the
     * second on, the data goes into one buffer of the request's length (or the caller's destination) and each chunk
     * is released at once, and coverage is a bitmap of the request. So a reply in many small chunks costs the READ
     * length plus an eighth, never memory in proportion to the number of chunks or the buffers they arrived in.
     */
    private void content(Request r, long offset, long size, NbdReplyType type, ByteBuf data)
            throws NbdProtocolException {
        if (!r.type.equals(NbdCommandType.READ)) {
            throw new NbdProtocolException(type + " in the reply to " + r.type + " (cookie " + r.cookie
                    + ")");
        }
        long end = offset + size;
        if (offset < r.offset || end > r.offset + r.length || end < offset) {
            throw new NbdProtocolException(type + " covers " + Long.toUnsignedString(offset) + "+" + size
                    + ", outside the request " + r.offset + "+" + r.length + " (cookie " + r.cookie + ")");
        }
        int from = (int) (offset - r.offset);
        int to = (int) (end - r.offset);
        if (r.a().contentChunks > 0 && (r.flags & NbdCommandFlags.DF) != 0) {
            throw new NbdProtocolException("more than one content chunk for a READ with the DF flag (cookie "
                    + r.cookie + ")");
        }
        Request.Assembly a = r.a();
        boolean overlaps = a.coverage != null ? a.coverage.nextSetBit(from) >= 0 && a.coverage.nextSetBit(from) < to
                : a.contentChunks > 0 && from < a.firstTo && a.firstFrom < to;
        if (overlaps) {
            throw new NbdProtocolException(type + " at " + offset + "+" + size
                    + " overlaps an earlier chunk of the same reply (cookie " + r.cookie + ")");
        }
        if (r.a().contentChunks == 0 && r.destination() == null) {
            r.a().firstFrom = from;
            r.a().firstTo = to;
            r.a().first = data == null ? null : data.retain();
        } else {
            if (r.a().coverage == null) {
                // The second content chunk: from now on, assemble in place.
                r.a().coverage = new java.util.BitSet((int) r.length);
                if (r.a().contentChunks > 0) {
                    r.a().coverage.set(r.a().firstFrom, r.a().firstTo);
                }
                if (r.destination() == null) {
                    r.a().assembled = channel.alloc().buffer((int) r.length, (int) r.length);
                    place(r, r.a().firstFrom, r.a().firstTo, r.a().first);
                    if (r.a().first != null) {
                        r.a().first.release();
                        r.a().first = null;
                    }
                } else {
                    r.a().destinationBase = r.destination().writerIndex();
                    r.destination().ensureWritable((int) r.length);
                }
            }
            r.a().coverage.set(from, to);
            place(r, from, to, data);
        }
        r.a().contentChunks++;
        r.a().covered += size;
    }

    /** Puts bytes {@code from..to} of a READ (data, or zeroes for a hole) in its assembly buffer or destination. */
    private static void place(Request r, int from, int to, ByteBuf data) {
        ByteBuf dst = r.a().assembled != null ? r.a().assembled : r.destination();
        int at = (r.a().assembled != null ? 0 : r.a().destinationBase) + from;
        if (data != null) {
            dst.setBytes(at, data, data.readerIndex(), to - from);
        } else {
            dst.setZero(at, to - from);
        }
    }

    private void blockStatusChunk(Request r, NbdBlockStatusChunk b) throws NbdProtocolException {
        if (!r.type.equals(NbdCommandType.BLOCK_STATUS)) {
            throw new NbdProtocolException(b.type() + " in the reply to " + r.type + " (cookie " + r.cookie + ")");
        }
        NbdMetaContext context = contextsById.get(b.contextId());
        if (context == null) {
            throw new NbdProtocolException("block status for context id " + Integer.toUnsignedString(b.contextId())
                    + ", which was not negotiated (cookie " + r.cookie + ")");
        }
        if (r.filterSent() && !r.a().asked.contains(context)) {
            throw new NbdProtocolException("block status for context " + context.name() + ", which the request's "
                    + "filter did not ask for (cookie " + r.cookie + ")");
        }
        if (r.a().status == null) {
            r.a().status = new LinkedHashMap<>();
        }
        if (r.a().status.containsKey(b.contextId())) {
            throw new NbdProtocolException("two block status chunks for context " + context.name() + " (cookie "
                    + r.cookie + ")");
        }
        int n = b.extentCount();
        if (n == 0) {
            throw new NbdProtocolException("block status chunk without extents (cookie " + r.cookie + ")");
        }
        r.a().extents += n;
        if (r.a().extents > config.maxBlockStatusExtents()) {
            throw new NbdProtocolException("the reply to NBD_CMD_BLOCK_STATUS (cookie " + r.cookie + ") holds more"
                    + " than " + config.maxBlockStatusExtents() + " extents, the limit of one reply");
        }
        boolean reqOne = (r.flags & NbdCommandFlags.REQ_ONE) != 0;
        if (reqOne && (n != 1 || Long.compareUnsigned(b.extentLength(0), r.length) > 0)) {
            throw new NbdProtocolException("block status with REQ_ONE must have one extent no longer than the request;"
                    + " got " + n + " extent(s), the first " + Long.toUnsignedString(b.extentLength(0))
                    + " bytes (cookie " + r.cookie + ")");
        }
        long sum = 0;
        for (int i = 0; i < n; i++) {
            long len = b.extentLength(i);
            if (len == 0) {
                throw new NbdProtocolException("block status extent of length 0 for " + context.name() + " (cookie "
                        + r.cookie + ")");
            }
            // Even the last extent, which may run past the request, must end at an offset a long can hold: a
            // 64-bit length near 2^64 would otherwise reach the caller as a negative length or end.
            if (len < 0 || len > Long.MAX_VALUE - r.offset - sum) {
                throw new NbdProtocolException("block status extent " + i + " of " + Long.toUnsignedString(len)
                        + " bytes for " + context.name() + " ends beyond offset 2^63 (cookie " + r.cookie + ")");
            }
            if (i < n - 1) {
                sum += len;
                if (sum >= r.length) {
                    throw new NbdProtocolException("block status extents for " + context.name()
                            + " run past the requested length before the last one (cookie " + r.cookie + ")");
                }
            }
            if (b.isExtended() && context.name().startsWith("base:") && (b.extentStatus(i) >>> 32) != 0) {
                throw new NbdProtocolException("64-bit status with the high bits set for " + context.name()
                        + " (cookie " + r.cookie + ")");
            }
        }
        r.a().status.put(b.contextId(), b);
    }

    private void errorChunk(Request r, NbdErrorChunk e) throws NbdProtocolException {
        if (e.error().equals(NbdErrno.OK)) {
            throw new NbdProtocolException(e.type() + " with error 0 (cookie " + r.cookie + ")");
        }
        if (++r.a().errorChunks > maxErrorChunks(r)) {
            throw new NbdProtocolException("the reply to " + r.type + " (cookie " + r.cookie + ") goes on with more"
                    + " than " + maxErrorChunks(r) + " error chunks and no end");
        }
        long errorOffset = -1;
        if (e.hasErrorOffset()) {
            NbdCommandType t = r.type;
            if (t.equals(NbdCommandType.FLUSH) || t.equals(NbdCommandType.DISC)) {
                throw new NbdProtocolException("NBD_REPLY_TYPE_ERROR_OFFSET is not valid for " + t);
            }
            errorOffset = e.errorOffset();
            if (errorOffset < r.offset || errorOffset - r.offset >= r.length) {
                throw new NbdProtocolException("NBD_REPLY_TYPE_ERROR_OFFSET at " + Long.toUnsignedString(errorOffset)
                        + " lies outside the request " + r.offset + "+" + r.length + " (cookie " + r.cookie + ")");
            }
        }
        if (r.a().error == null) {
            r.a().error = new NbdCommandException(r.type, e.error(), e.message(), errorOffset);
        }
    }

    private void done(Request r) throws NbdProtocolException {
        if (r.error() != null) {
            completeExceptionally(r, r.error());
            return;
        }
        if (r.type.equals(NbdCommandType.READ)) {
            if (r.a().covered != r.length) {
                throw new NbdProtocolException("the reply to NBD_CMD_READ (cookie " + r.cookie + ") covered "
                        + r.a().covered + " of " + r.length + " bytes without reporting an error");
            }
            complete(r, assembleRead(r));
            return;
        }
        if (r.type.equals(NbdCommandType.BLOCK_STATUS)) {
            int got = r.a().status == null ? 0 : r.a().status.size();
            List<NbdMetaContext> answered = r.filterSent() ? r.a().asked : contexts;
            if (got != answered.size()) {
                throw new NbdProtocolException("the reply to NBD_CMD_BLOCK_STATUS (cookie " + r.cookie + ") had "
                        + got + " status chunk(s) for " + answered.size() + (r.filterSent()
                        ? " context(s) asked for" : " negotiated context(s)"));
            }
            Map<String, List<NbdExtent>> result = new LinkedHashMap<>();
            for (NbdMetaContext c : r.a().asked != null ? r.a().asked : contexts) {
                result.put(c.name(), extentList(r, c, r.a().status.get(c.id())));
            }
            complete(r, new NbdBlockStatus(r.offset, result));
            return;
        }
        complete(r, null);
    }

    /**
     * The most error chunks one reply may hold: 1,024, plus one per 512 bytes of a READ (a server may report each
     * failed sector of a long READ on its own). Each error chunk is valid alone, so without a bound a server could
     * keep one reply going for ever; past it the reply cannot be trusted to end, and the connection fails.
     */
    static long maxErrorChunks(Request r) {
        return MAX_ERROR_CHUNKS + (r.type.equals(NbdCommandType.READ) ? r.length / 512 : 0);
    }

    /**
     * Error chunks one reply may hold before the reply is taken as never ending (a protocol error): this many, plus
     * one per 512 bytes of a READ.
     */
    public static final int MAX_ERROR_CHUNKS = 1024;

    /**
     * The extents of one context as the caller gets them: a view over the chunk as decoded, without a copy, ending
     * at the end of the export. The spec lets the last extent run past the request, but past the end of the export
     * there are no bytes to describe: such an extent is cut there and any after it dropped (and the listener told),
     * or, with {@link NbdStrict#EXTENTS}, the reply is a protocol error.
     */
    private NbdExtentList extentList(Request r, NbdMetaContext c, NbdBlockStatusChunk b) throws NbdProtocolException {
        long size = info.size();
        int n = b.extentCount();
        long at = r.offset;
        for (int i = 0; i < n; i++) {
            long len = b.extentLength(i);
            if (at + len > size) {
                long end = at;
                for (int j = i; j < n; j++) {
                    end += b.extentLength(j);
                }
                if ((config.strictMode() & NbdStrict.EXTENTS) != 0) {
                    throw new NbdProtocolException("block status extents for " + c.name() + " run to offset "
                            + end + ", past the end of the export (" + size + " bytes) (cookie " + r.cookie + ")");
                }
                NbdListener l = config.listener();
                if (l != null) {
                    try {
                        l.extentsBeyondEnd(c.name(), r.offset, end, size);
                    } catch (RuntimeException e) {
                        LOG.warn("NbdListener threw", e);
                    }
                }
                if (debug) {
                    LOG.debug("{}: block status for {} ran to {}, cut at the end of the export ({})", channel,
                            c.name(), end, size);
                }
                return at < size ? NbdExtentList.of(r.offset, b, i + 1, size - at, size)
                        : NbdExtentList.of(r.offset, b, i, i == 0 ? 0 : b.extentLength(i - 1), at);
            }
            at += len;
        }
        return NbdExtentList.of(r.offset, b, n, b.extentLength(n - 1), at);
    }

    /** Hands over a complete structured READ: in the caller's buffer, the one chunk as it came, or the assembly. */
    private ByteBuf assembleRead(Request r) {
        if (r.destination() != null) {
            if (r.a().contentChunks > 0) {
                r.destination().writerIndex(r.a().destinationBase + (int) r.length);
            }
            return null;
        }
        if (r.a().contentChunks == 0) {
            return Unpooled.EMPTY_BUFFER;
        }
        if (r.a().assembled != null) {
            ByteBuf b = r.a().assembled;
            r.a().assembled = null;
            return b.writerIndex((int) r.length);
        }
        if (r.a().first != null) {
            ByteBuf b = r.a().first;
            r.a().first = null;
            return b;
        }
        int size = (int) r.length;
        return channel.alloc().buffer(size, size).writeZero(size);
    }

    /**
     * The last inbound handler: replies in, requests out, failure on error or close. Replies that carry data come
     * straight from the decoder (its sink), without a message object each; the others as messages.
     */
    private final class Transmission extends ChannelDuplexHandler implements NbdReplyDecoder.DataSink {
        @Override
        public void simpleReply(long cookie, ByteBuf data) {
            reading = true;
            try {
                onSimpleReply(cookie, NbdErrno.OK, data);
            } catch (NbdProtocolException e) {
                handle.fail(e);
            } finally {
                data.release();
            }
        }

        @Override
        public void offsetData(int flags, long cookie, long headerOffset, long offset, ByteBuf data) {
            reading = true;
            try {
                onOffsetData(flags, cookie, headerOffset, offset, data);
            } catch (NbdProtocolException e) {
                handle.fail(e);
            } finally {
                data.release();
            }
        }

        @Override
        public boolean noneChunk(int flags, long cookie, long headerOffset) {
            reading = true;
            try {
                onNone(flags, cookie, headerOffset);
            } catch (NbdProtocolException e) {
                handle.fail(e);
            }
            return true;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            reading = true;
            try {
                if (msg instanceof NbdSimpleReply s) {
                    onSimpleReply(s.cookie(), s.error(), s.data());
                } else if (msg instanceof NbdReplyChunk c) {
                    onChunk(c);
                } else {
                    throw new NbdProtocolException("unexpected message in the transmission phase: " + msg);
                }
            } catch (NbdProtocolException e) {
                handle.fail(e);
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            reading = false;
            if (flushPending) {
                if (holdBack()) {
                    hold();
                } else {
                    flushNow();
                }
            }
            ctx.fireChannelReadComplete();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof NbdDecoderException) {
                handle.fail(new NbdProtocolException("malformed reply from the server: " + cause.getMessage(),
                        cause));
            } else {
                handle.fail(new NbdConnectionClosedException("I/O error on the connection: "
                        + NbdErrors.inWords(cause), cause));
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (failure == null) {
                handle.fail(new NbdConnectionClosedException("the server closed the connection"));
            }
            failAllOnLoop(failure != null ? failure
                    : new NbdConnectionClosedException("the server closed the connection"));
            ctx.fireChannelInactive();
        }
    }
}
