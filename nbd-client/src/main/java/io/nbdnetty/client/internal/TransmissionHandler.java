package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdCommandException;
import io.nbdnetty.client.NbdConnectionClosedException;
import io.nbdnetty.client.NbdErrors;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdListener;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdProtocolException;
import io.nbdnetty.client.NbdReadCallback;
import io.nbdnetty.client.NbdReplyStyle;
import io.nbdnetty.client.NbdStats;
import io.nbdnetty.codec.NbdBlockStatusPayload;
import io.nbdnetty.codec.NbdClientHandshakeDecoder;
import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.codec.NbdCommandType;
import io.nbdnetty.codec.NbdConstants;
import io.nbdnetty.codec.NbdDecoderException;
import io.nbdnetty.codec.NbdErrno;
import io.nbdnetty.codec.NbdReplyDecoder;
import io.nbdnetty.codec.NbdRequest;
import io.nbdnetty.codec.NbdRequestEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.internal.PlatformDependent;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The last handler of a connection's pipeline in the transmission phase, and the owner of its requests: the caller
 * to event-loop handover, the in-flight map and the local queue (at most {@link
 * io.nbdnetty.client.NbdClientConfig#maxInFlightRequests()} requests and {@link
 * io.nbdnetty.client.NbdClientConfig#maxInFlightBytes()} bytes in flight), sending, completing and failing requests,
 * soft disconnect, and fail-all when the connection ends. Replies come in through {@link ReplyAssembler}; when
 * requests are flushed is {@link FlushPolicy}'s; their timers are {@link RequestTimeouts}'. Failures of the whole
 * connection go to the {@link ConnectionOwner} (the handle), which calls {@link #failAll} once: one close and fail
 * path. Thread-safety: {@link #submit}, {@link #read}, {@link #awaitCapacity}, {@link #disconnect()} and {@link
 * #failAll} from any thread; everything else on the event loop.
 */
public final class TransmissionHandler extends ReplyAssembler {
    final ConnectionOwner owner;
    private final EventLoop loop;
    private final FlushPolicy flushPolicy;
    private final RequestTimeouts timeouts;
    private final CompletableFuture<Void> disconnectFuture = new CompletableFuture<>();

    private final ArrayDeque<Request<?>> queue = new ArrayDeque<>();
    /**
     * Requests and other work from other threads, on their way to the event loop: see {@link #handOver}. In chunks of
     * 16 (Netty's default chunk is 1,024 slots, 4 KiB per connection at rest), unbounded in practice.
     */
    private final Queue<Object> incoming = PlatformDependent.newMpscQueue(16, 1 << 30);
    private final AtomicBoolean drainQueued = new AtomicBoolean();
    /** Finished callback reads, for reuse; event loop only. */
    private final ArrayDeque<Request.CallbackRead> readPool = new ArrayDeque<>();
    private final List<CompletableFuture<Void>> capacityWaiters = new ArrayList<>();
    private long nextCookie = 1;
    private long inFlightBytes;
    /** The loop's busy-poll strategy, which counts this connection's requests in flight; null on other groups. */
    private final BusyPollStrategy pollStrategy;
    /** Whether the requests being enqueued come from other threads (see {@link FlushPolicy#requestFlush()}). */
    boolean fromOtherThread;
    private boolean disconnecting;
    private boolean closedNotified;
    /** Why the connection ended; written on the event loop, read anywhere. */
    volatile Throwable failure;

    // Counters: written on the event loop only, read anywhere.
    volatile int inFlight;
    private volatile int queued;
    private volatile long bytesSent;
    private volatile long requestsSent;
    private volatile long requestsCompleted;
    private volatile long requestsFailed;

    /**
     * The transmission phase of one connection.
     *
     * @param owner the handle, told when the connection fails or is disconnected
     * @param session what the handshake negotiated
     * @param channel the channel, on whose event loop this is created (inside the handshake)
     * @param extentLists makes the caller's lists of extents
     */
    public TransmissionHandler(ConnectionOwner owner, NbdSession session, Channel channel,
            ExtentLists extentLists) {
        super(session, channel, extentLists);
        this.owner = owner;
        this.loop = channel.eventLoop();
        this.pollStrategy = loop.inEventLoop() ? BusyPollStrategy.current() : null;
        this.flushPolicy = new FlushPolicy(this, channel);
        this.timeouts = new RequestTimeouts(this, config, loop);
    }

    /** @return the event loop of the connection */
    public EventLoop eventLoop() {
        return loop;
    }

    /**
     * {@link io.nbdnetty.client.NbdConnection#read(long, int, int, NbdReadCallback)}, READ taking {@code
     * allowedFlags}: the request comes from a pool of finished ones on the event loop (no allocation per read).
     */
    public void read(long offset, int length, int flags, NbdReadCallback callback, int allowedFlags) {
        Request.CallbackRead r = loop.inEventLoop() ? readPool.pollLast() : null;
        if (r != null) {
            r.reuse(offset, length, flags, callback);
        } else {
            r = new Request.CallbackRead(offset, length, flags, callback);
        }
        submit(r, allowedFlags);
    }

    @Override
    void fail(Throwable cause) {
        owner.fail(cause);
    }

    /** @return the counters now, for {@link io.nbdnetty.client.NbdConnection#stats()} */
    public NbdStats stats() {
        return new NbdStats(bytesSent, bytesReceived, requestsSent, chunksReceived, requestsCompleted,
                requestsFailed, inFlight, queued);
    }

    /** @return how many requests are in flight now */
    public int inFlight() {
        return inFlight;
    }

    /**
     * Replaces the handshake handlers with the transmission ones; on the event loop, inside the handshake.
     *
     * @param pipeline the channel's pipeline
     * @param handshakeDecoder the handshake decoder, replaced last so that the bytes it holds reach the reply decoder
     */
    public void install(ChannelPipeline pipeline, NbdClientHandshakeDecoder handshakeDecoder) {
        boolean extended = style == NbdReplyStyle.EXTENDED;
        pipeline.replace(PipelineNames.HANDSHAKE, PipelineNames.TRANSMISSION, this);
        pipeline.replace(PipelineNames.HANDSHAKE_ENCODER, PipelineNames.REQUEST_ENCODER,
                new NbdRequestEncoder(extended));
        // Replacing the decoder last hands any bytes it still holds to the reply decoder.
        NbdReplyDecoder replyDecoder = new NbdReplyDecoder(extended, this::simpleReplyDataLength,
                config.maxReplyPayloadLength(), this).maxBlockStatusDescriptors(config.maxBlockStatusExtents());
        timeouts.replyDecoder = replyDecoder;
        pipeline.replace(handshakeDecoder, PipelineNames.REPLY_DECODER, replyDecoder);
    }

    /** See {@link io.nbdnetty.client.NbdConnection#awaitCapacity()}. */
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

    /** See {@link io.nbdnetty.client.NbdConnection#disconnect()}. */
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

    /** See {@link io.nbdnetty.client.NbdConnection#disconnect(java.time.Duration)}; the owner closes at the end. */
    public CompletableFuture<Void> disconnect(java.time.Duration timeout) {
        CompletableFuture<Void> f = disconnect();
        runOnLoop(() -> {
            if (!f.isDone()) {
                io.netty.util.concurrent.ScheduledFuture<?> t = loop.schedule(() -> {
                    if (!f.isDone()) {
                        owner.close();
                    }
                }, timeout.toNanos(), TimeUnit.NANOSECONDS);
                f.whenComplete((v, e) -> t.cancel(false));
            }
        });
        return f;
    }

    /**
     * Sends a request, or queues it while the in-flight limits are reached; refuses it at once (its future failed)
     * if the connection has ended or the strict checks say no. Any thread.
     *
     * @param r the request
     * @param allowedFlags the command flags the command takes
     * @param <T> what the request's future completes with
     * @return the request itself, the caller's future
     */
    public <T> CompletableFuture<T> submit(Request<T> r, int allowedFlags) {
        Throwable ended = failure;
        if (ended != null) {
            // The connection is over: say so, rather than what a strict-mode check would say about the request.
            failEarly(r, ended);
            return r;
        }
        NbdException refused = StrictChecks.check(r, allowedFlags, config, info, style, contexts);
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
            if (next instanceof Request<?> r) {
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

    private boolean hasRoom(long bytes) {
        return queue.isEmpty() && inFlight < config.maxInFlightRequests()
                && (inFlight == 0 || inFlightBytes + bytes <= config.maxInFlightBytes());
    }

    private void enqueue(Request<?> r) {
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

    private void send(Request<?> r) {
        r.cookie = nextCookie++;
        inFlightMap.put(key(r.cookie), r);
        inFlight = inFlightMap.size();
        inFlightBytes += r.bytes();
        if (pollStrategy != null) {
            pollStrategy.requests(1, largeRead(r) ? 1 : 0);
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
        boolean timed = !config.requestTimeout().isZero();
        if (timed || config.listener() != null) {
            // Only then: the request stays smaller without (it is allocated per request).
            Request.Timing t = r.timing();
            t.sentNanos = System.nanoTime();
            t.expired = false;
        }
        timeouts.sent(inFlightMap.size() == 1, timed);
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
            owner.fail(new NbdConnectionClosedException("could not send a request: " + NbdErrors.inWords(e), e));
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
        flushPolicy.requestFlush();
    }

    /** The payload of a filtered block status: its effect length and the ids of the contexts asked for. */
    private ByteBuf blockStatusFilter(Request<?> r) {
        List<NbdMetaContext> asked = r.a().asked;
        int[] ids = new int[asked.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = asked.get(i).id();
        }
        return new NbdBlockStatusPayload(r.length, ids).encode(channel.alloc());
    }

    private void drainQueue() {
        while (!queue.isEmpty() && failure == null) {
            Request<?> next = queue.peek();
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
            owner.markClosed();
            disconnectFuture.complete(null);
            return;
        }
        owner.markClosed();
        failure = new NbdConnectionClosedException("the connection was disconnected");
        NbdRequest disc = new NbdRequest(0, NbdCommandType.DISC, nextCookie++, 0, 0);
        channel.writeAndFlush(disc).addListener((ChannelFutureListener) f -> channel.close());
        channel.closeFuture().addListener(f -> disconnectFuture.complete(null));
    }

    /** Fails every request in flight or queued; from the handle, on any thread. */
    public void failAll(Throwable cause) {
        runOnLoop(() -> failAllOnLoop(cause));
    }

    private void failAllOnLoop(Throwable cause) {
        if (failure == null || failure instanceof NbdConnectionClosedException && disconnecting) {
            failure = cause;
        }
        timeouts.cancel();
        List<Request<?>> all = new ArrayList<>(inFlightMap.values());
        all.sort(Comparator.comparingLong(r -> r.cookie)); // fail them in the order they were sent
        all.addAll(queue);
        if (pollStrategy != null && !inFlightMap.isEmpty()) {
            int large = 0;
            for (Request<?> r : inFlightMap.values()) {
                large += largeRead(r) ? 1 : 0;
            }
            pollStrategy.requests(-inFlightMap.size(), -large);
        }
        inFlightMap.clear();
        queue.clear();
        inFlight = 0;
        queued = 0;
        inFlightBytes = 0;
        for (Request<?> r : all) {
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

    @Override
    void complete(Request<?> r, Object value) {
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
        } else if (!r.completeWith(value)) {
            requestsCompleted--;
            ReferenceCountUtil.safeRelease(value);
        }
    }

    /** Whether the request's caller has had its answer (a future done, a callback called). */
    private static boolean delivered(Request<?> r) {
        return r instanceof Request.CallbackRead c ? c.delivered : r.isDone();
    }

    /** Fails the request's future or calls its callback, unless already done; the request stays where it is. */
    void failFuture(Request<?> r, Throwable cause) {
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
    private void failEarly(Request<?> r, Throwable cause) {
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
    private void recycle(Request<?> r) {
        if (r instanceof Request.CallbackRead c && c.delivered && loop.inEventLoop()
                && readPool.size() < config.maxInFlightRequests()) {
            c.releaseAll();
            c.clear();
            readPool.addLast(c);
        }
    }

    @Override
    void completeExceptionally(Request<?> r, Throwable cause) {
        finish(r);
        r.releaseAll();
        failFuture(r, cause);
        recycle(r);
        if (cause instanceof NbdCommandException c && c.error().equals(NbdErrno.ESHUTDOWN)) {
            // The spec: a client that receives ESHUTDOWN must initiate a soft disconnect.
            disconnecting = true;
        }
    }

    private void notifyListener(Request<?> r, Throwable error) {
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

    private static boolean largeRead(Request<?> r) {
        return BusyPollStrategy.isLargeRead(r.type.equals(NbdCommandType.READ), r.length);
    }

    private void finish(Request<?> r) {
        if (inFlightMap.remove(key(r.cookie)) != null) {
            inFlight = inFlightMap.size();
            inFlightBytes -= r.bytes();
            if (pollStrategy != null) {
                pollStrategy.requests(-1, largeRead(r) ? -1 : 0);
            }
        }
        drainQueue();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        reading = false;
        flushPolicy.readComplete();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof NbdDecoderException) {
            owner.fail(new NbdProtocolException("malformed reply from the server: " + cause.getMessage(),
                    cause));
        } else {
            owner.fail(new NbdConnectionClosedException("I/O error on the connection: "
                    + NbdErrors.inWords(cause), cause));
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (failure == null) {
            owner.fail(new NbdConnectionClosedException("the server closed the connection"));
        }
        failAllOnLoop(failure != null ? failure
                : new NbdConnectionClosedException("the server closed the connection"));
        ctx.fireChannelInactive();
    }
}
