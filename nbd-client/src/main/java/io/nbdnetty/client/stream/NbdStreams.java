package io.nbdnetty.client.stream;

import io.nbdnetty.client.NbdBlockDevice;
import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdCommandException;
import io.nbdnetty.client.NbdExtent;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdProtocolException;
import io.nbdnetty.client.internal.NegotiationHandler;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;

import java.util.ArrayDeque;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link Flow} (Reactive Streams) adapters for an {@link NbdBlockDevice}: a range read as a stream of buffers, a
 * range's block status as a stream of extents, and a subscriber that writes a stream of buffers. The library depends
 * on nothing but {@code java.util.concurrent.Flow}; bridge to Reactor, RxJava or Akka with their Flow adapters (for
 * Reactor, {@code JdkFlowAdapter.flowPublisherToFlux}).
 *
 * <p>The publishers are single-subscriber and cold: nothing is sent to the server before the first
 * {@link Flow.Subscription#request(long)}. They follow the Reactive Streams rules: {@code onNext} only against
 * demand, signals serialized, {@code onError}/{@code onComplete} at most once, nothing after cancel, and
 * {@code request(n)} with {@code n <= 0} ends the stream with {@link IllegalArgumentException}. Signals are delivered
 * on whichever thread drives the stream (the caller of {@code request}, or the connection's event loop when a reply
 * arrives): do not block in them.
 */
public final class NbdStreams {
    /** The largest block status request made at once: 2 GiB, a multiple of every power-of-two block size. */
    static final long MAX_BLOCK_STATUS_LENGTH = 1L << 31;

    private NbdStreams() {
    }

    /**
     * Reads {@code [offset, offset + length)} as a stream of buffers of {@code chunkSize} bytes (the last one may be
     * shorter), in order. Reads are issued ahead of delivery: at most {@code window} chunks are read but not yet
     * delivered (in flight, or arrived and waiting for demand) at any time, so the number of reads in flight never
     * exceeds {@code window} nor outstanding demand plus {@code window}.
     *
     * <p>Each buffer passed to {@code onNext} belongs to the subscriber, which must release it. After
     * {@code cancel()} (or an error) the publisher releases every chunk it holds and every chunk that arrives later.
     * A failed read ends the stream with {@code onError} (its cause, e.g. {@link NbdCommandException}). A second
     * subscriber gets {@code onError(IllegalStateException)}.
     *
     * @param dev the device to read from
     * @param offset where the range starts
     * @param length how many bytes to read; 0 gives an empty stream
     * @param chunkSize bytes per chunk, at least 1 (keep it within the server's maximum block size)
     * @param window how many chunks may be read ahead, at least 1
     * @return a single-subscriber publisher
     */
    public static Flow.Publisher<ByteBuf> read(NbdBlockDevice dev, long offset, long length, int chunkSize,
            int window) {
        Objects.requireNonNull(dev, "dev");
        checkRange(offset, length);
        if (chunkSize < 1) {
            throw new IllegalArgumentException("chunkSize must be at least 1: " + chunkSize);
        }
        if (window < 1) {
            throw new IllegalArgumentException("window must be at least 1: " + window);
        }
        return new OneShot<>(s -> new ReadSubscription(s, dev, offset, length, chunkSize, window));
    }

    /**
     * Walks the block status of {@code [offset, offset + length)} for one metadata context as a stream of extents,
     * in order, covering the range exactly: the first extent starts at {@code offset}, each one starts where the
     * previous ended, and the last one is clipped to end at {@code offset + length}. The server may describe less
     * than asked; the walk then asks again from where the answer ended, one block status request at a time and only
     * while there is demand. An answer that makes no progress, or has no extents for the context (for instance
     * because it was not negotiated), ends the stream with {@link NbdProtocolException}.
     *
     * @param dev the device; the context must have been negotiated on it
     * @param context the metadata context, e.g. {@link NbdMetaContext#BASE_ALLOCATION}
     * @param offset where the range starts
     * @param length the range length; 0 gives an empty stream
     * @return a single-subscriber publisher
     */
    public static Flow.Publisher<NbdExtent> extents(NbdBlockDevice dev, String context, long offset, long length) {
        Objects.requireNonNull(dev, "dev");
        Objects.requireNonNull(context, "context");
        checkRange(offset, length);
        return new OneShot<>(s -> new ExtentsSubscription(s, dev, context, offset, length));
    }

    /**
     * A subscriber that writes the buffers it receives one after another from {@code offset} on, requesting more
     * only while the bytes written but not yet acknowledged are below {@code maxInFlightBytes}. See
     * {@link NbdWriteSubscriber}.
     *
     * @param dev the device to write to
     * @param offset where the first buffer goes
     * @param maxInFlightBytes the bound on unacknowledged bytes, at least 1
     * @return a new subscriber; subscribe it to one publisher, then wait for {@link NbdWriteSubscriber#result()}
     */
    public static NbdWriteSubscriber write(NbdBlockDevice dev, long offset, long maxInFlightBytes) {
        return new NbdWriteSubscriber(dev, offset, maxInFlightBytes);
    }

    private static void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length < 0) {
            throw new IllegalArgumentException("bad range: offset " + offset + ", length " + length);
        }
    }

    static long addCap(long a, long b) {
        long r = a + b;
        return r < 0 ? Long.MAX_VALUE : r;
    }

    // ------------------------------------------------------------------------------------------------ plumbing

    /** A publisher that accepts one subscriber. */
    private static final class OneShot<T> implements Flow.Publisher<T> {
        private final java.util.function.Function<Flow.Subscriber<? super T>, DrainSubscription<T>> factory;
        private final AtomicBoolean subscribed = new AtomicBoolean();

        OneShot(java.util.function.Function<Flow.Subscriber<? super T>, DrainSubscription<T>> factory) {
            this.factory = factory;
        }

        @Override
        public void subscribe(Flow.Subscriber<? super T> subscriber) {
            Objects.requireNonNull(subscriber, "subscriber");
            if (!subscribed.compareAndSet(false, true)) {
                subscriber.onSubscribe(NOOP);
                subscriber.onError(new IllegalStateException("this publisher allows one subscriber only"));
                return;
            }
            DrainSubscription<T> s = factory.apply(subscriber);
            subscriber.onSubscribe(s);
            s.drain();
        }
    }

    private static final Flow.Subscription NOOP = new Flow.Subscription() {
        @Override
        public void request(long n) {
        }

        @Override
        public void cancel() {
        }
    };

    /**
     * The common part of both publishers: demand, cancellation and the serialized drain loop. Every signal to the
     * subscriber and every piece of state below is touched only inside {@link #drain()}'s loop, which one thread at
     * a time runs.
     */
    private abstract static class DrainSubscription<T> implements Flow.Subscription {
        final Flow.Subscriber<? super T> downstream;
        private final AtomicInteger wip = new AtomicInteger();
        private final AtomicLong requested = new AtomicLong();
        private volatile boolean cancelled;
        private volatile Throwable badRequest;
        /** Set in the loop once a terminal signal was sent or the subscriber cancelled; then only cleanup runs. */
        private boolean terminated;

        DrainSubscription(Flow.Subscriber<? super T> downstream) {
            this.downstream = downstream;
        }

        @Override
        public final void request(long n) {
            if (n <= 0) {
                badRequest = new IllegalArgumentException("Reactive Streams rule 3.9: request(" + n
                        + ") must be positive");
            } else {
                requested.getAndAccumulate(n, NbdStreams::addCap);
            }
            drain();
        }

        @Override
        public final void cancel() {
            cancelled = true;
            drain();
        }

        final void drain() {
            if (wip.getAndIncrement() != 0) {
                return;
            }
            int missed = 1;
            while (true) {
                loop();
                missed = wip.addAndGet(-missed);
                if (missed == 0) {
                    return;
                }
            }
        }

        private void loop() {
            if (terminated) {
                cleanup();
                return;
            }
            if (cancelled) {
                terminated = true;
                cleanup();
                return;
            }
            Throwable bad = badRequest;
            if (bad != null) {
                fail(bad);
                return;
            }
            long r = requested.get();
            long emitted = 0;
            try {
                emitted = emit(r);
            } catch (Throwable t) {
                // A subscriber that throws breaks rule 2.13: stop everything and drop what is held.
                terminated = true;
                cleanup();
                return;
            }
            if (emitted != 0 && r != Long.MAX_VALUE) {
                requested.addAndGet(-emitted);
            }
        }

        final boolean isStopped() {
            return terminated || cancelled || badRequest != null;
        }

        /** Sends the terminal error, once, and drops everything held. */
        final void fail(Throwable t) {
            if (terminated) {
                return;
            }
            terminated = true;
            cleanup();
            downstream.onError(t);
        }

        /** Sends onComplete, once. */
        final void complete() {
            if (terminated) {
                return;
            }
            terminated = true;
            cleanup();
            downstream.onComplete();
        }

        /**
         * Emits up to {@code demand} items, issues more work, and completes or fails through {@link #complete()}
         * and {@link #fail(Throwable)}.
         *
         * @return how many items were emitted
         */
        abstract long emit(long demand);

        /** Releases everything held; called (possibly many times) once the stream has ended. */
        abstract void cleanup();
    }

    // ----------------------------------------------------------------------------------------------------- read

    private static final class ReadSubscription extends DrainSubscription<ByteBuf> {
        private final NbdBlockDevice dev;
        private final long end;
        private final int chunkSize;
        private final int window;
        private final ArrayDeque<CompletableFuture<ByteBuf>> pending = new ArrayDeque<>();
        private long next;
        /** Whether the subscriber has asked for anything yet: nothing is read before. */
        private boolean started;

        ReadSubscription(Flow.Subscriber<? super ByteBuf> s, NbdBlockDevice dev, long offset, long length,
                int chunkSize, int window) {
            super(s);
            this.dev = dev;
            this.next = offset;
            this.end = offset + length;
            this.chunkSize = chunkSize;
            this.window = window;
        }

        @Override
        long emit(long demand) {
            long emitted = 0;
            while (true) {
                // Deliver completed chunks in order, against demand.
                while (emitted < demand && !pending.isEmpty() && pending.peek().isDone()) {
                    CompletableFuture<ByteBuf> head = pending.poll();
                    ByteBuf b;
                    try {
                        b = head.join();
                    } catch (RuntimeException e) {
                        fail(NegotiationHandler.unwrap(e));
                        return emitted;
                    }
                    emitted++;
                    downstream.onNext(b);
                    if (isStopped()) {
                        return emitted;
                    }
                }
                if (!pending.isEmpty() && pending.peek().isCompletedExceptionally()) {
                    // An error does not wait for demand.
                    fail(NegotiationHandler.unwrap(pending.poll().handle((v, e) -> e).join()));
                    return emitted;
                }
                if (pending.isEmpty() && next >= end) {
                    complete();
                    return emitted;
                }
                // Read ahead: once the subscriber has asked for something, keep up to `window` chunks issued.
                boolean issued = false;
                if (demand > 0) {
                    started = true;
                }
                while (started && pending.size() < window && next < end) {
                    int len = (int) Math.min(chunkSize, end - next);
                    CompletableFuture<ByteBuf> f;
                    try {
                        f = dev.read(next, len, 0);
                    } catch (RuntimeException e) {
                        f = CompletableFuture.failedFuture(e);
                    }
                    next += len;
                    pending.add(f);
                    issued = true;
                    f.whenComplete((v, e) -> drain());
                }
                if (!issued) {
                    return emitted;
                }
            }
        }

        @Override
        void cleanup() {
            // Chunks already here are released now; the others when they arrive (their completion drains again).
            pending.removeIf(f -> {
                if (f.isDone()) {
                    release(f);
                    return true;
                }
                return false;
            });
        }

        private static void release(CompletableFuture<ByteBuf> f) {
            if (!f.isCompletedExceptionally() && !f.isCancelled()) {
                ReferenceCountUtil.safeRelease(f.join());
            }
        }
    }

    // -------------------------------------------------------------------------------------------------- extents

    private static final class ExtentsSubscription extends DrainSubscription<NbdExtent> {
        private final NbdBlockDevice dev;
        private final String context;
        private final long end;
        private final ArrayDeque<NbdExtent> ready = new ArrayDeque<>();
        private long next;
        private CompletableFuture<NbdBlockStatus> inFlight;

        ExtentsSubscription(Flow.Subscriber<? super NbdExtent> s, NbdBlockDevice dev, String context, long offset,
                long length) {
            super(s);
            this.dev = dev;
            this.context = context;
            this.next = offset;
            this.end = offset + length;
        }

        @Override
        long emit(long demand) {
            long emitted = 0;
            while (true) {
                while (emitted < demand && !ready.isEmpty()) {
                    emitted++;
                    downstream.onNext(ready.poll());
                    if (isStopped()) {
                        return emitted;
                    }
                }
                if (inFlight != null) {
                    if (!inFlight.isDone()) {
                        return emitted;
                    }
                    CompletableFuture<NbdBlockStatus> f = inFlight;
                    inFlight = null;
                    NbdBlockStatus status;
                    try {
                        status = f.join();
                    } catch (RuntimeException e) {
                        fail(NegotiationHandler.unwrap(e));
                        return emitted;
                    }
                    Throwable bad = accept(status);
                    if (bad != null) {
                        fail(bad);
                        return emitted;
                    }
                    continue;
                }
                if (ready.isEmpty() && next >= end) {
                    complete();
                    return emitted;
                }
                if (emitted >= demand || !ready.isEmpty()) {
                    return emitted;
                }
                long len = Math.min(end - next, MAX_BLOCK_STATUS_LENGTH);
                CompletableFuture<NbdBlockStatus> f;
                try {
                    // Only this context: a server that filters (NBD_FLAG_BLOCK_STATUS_PAYLOAD) computes and sends
                    // nothing else; for one that does not, the others are dropped on arrival.
                    f = dev.blockStatus(next, len, 0, java.util.Set.of(context));
                } catch (RuntimeException e) {
                    f = CompletableFuture.failedFuture(e);
                }
                inFlight = f;
                f.whenComplete((v, e) -> drain());
            }
        }

        /** Takes the extents of one answer, clipped to the range; returns an error if the answer is unusable. */
        private Throwable accept(NbdBlockStatus status) {
            List<NbdExtent> extents = status.extents(context);
            if (extents.isEmpty()) {
                return new NbdProtocolException("block status at offset " + next + " has no extents for context "
                        + context + " (was it negotiated?)");
            }
            long at = next;
            for (NbdExtent e : extents) {
                if (at >= end) {
                    break;
                }
                if (e.offset() != at || e.length() <= 0) {
                    return new NbdProtocolException("block status for " + context + " is not contiguous: expected an"
                            + " extent at " + at + ", got " + e);
                }
                long len = Math.min(e.length(), end - at);
                ready.add(len == e.length() ? e : new NbdExtent(at, len, e.flags()));
                at += len;
            }
            if (at <= next) {
                return new NbdProtocolException("block status for " + context + " at offset " + next
                        + " made no progress");
            }
            next = at;
            return null;
        }

        @Override
        void cleanup() {
            ready.clear();
        }
    }
}
