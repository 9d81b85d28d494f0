package io.nbdnetty.client;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** Small Flow helpers for tests: a collecting subscriber and a demand-driven, trampolined buffer publisher. */
public final class FlowTesting {
    private FlowTesting() {
    }

    /**
     * Collects every item of a publisher (requesting everything) into a list.
     *
     * @param publisher the publisher
     * @param <T> the item type
     * @return completes with the items, or fails with the stream's error
     */
    public static <T> CompletableFuture<List<T>> collect(Flow.Publisher<T> publisher) {
        CompletableFuture<List<T>> f = new CompletableFuture<>();
        List<T> items = new ArrayList<>();
        publisher.subscribe(new Flow.Subscriber<T>() {
            @Override
            public void onSubscribe(Flow.Subscription s) {
                s.request(Long.MAX_VALUE);
            }

            @Override
            public void onNext(T item) {
                synchronized (items) {
                    items.add(item);
                }
            }

            @Override
            public void onError(Throwable t) {
                synchronized (items) {
                    items.forEach(ReferenceCountUtil::safeRelease);
                }
                f.completeExceptionally(t);
            }

            @Override
            public void onComplete() {
                synchronized (items) {
                    f.complete(new ArrayList<>(items));
                }
            }
        });
        return f;
    }

    /** The bytes {@link #buffers} generates for buffer {@code i}. */
    static byte[] bufferBytes(long seed, int i, int size) {
        byte[] b = new byte[size];
        new Random(seed * 1_000_003L + i).nextBytes(b);
        return b;
    }

    /**
     * A publisher of {@code count} buffers of {@code size} bytes of pseudo-random data, emitted only against demand,
     * without recursion (rule 3.3), counting how many were requested and emitted.
     */
    public static final class BufferPublisher implements Flow.Publisher<ByteBuf> {
        final int count;
        final int size;
        final long seed;
        /** Buffers emitted. */
        public final AtomicInteger emitted = new AtomicInteger();
        /** Whether the subscriber cancelled. */
        public final AtomicBoolean cancelled = new AtomicBoolean();

        /**
         * Creates the publisher.
         *
         * @param count how many buffers
         * @param size bytes each
         * @param seed data seed
         */
        public BufferPublisher(int count, int size, long seed) {
            this.count = count;
            this.size = size;
            this.seed = seed;
        }

        /**
         * The bytes all buffers make together.
         *
         * @return the expected data
         */
        public byte[] expected() {
            byte[] all = new byte[count * size];
            for (int i = 0; i < count; i++) {
                System.arraycopy(bufferBytes(seed, i, size), 0, all, i * size, size);
            }
            return all;
        }

        @Override
        public void subscribe(Flow.Subscriber<? super ByteBuf> s) {
            AtomicLong demand = new AtomicLong();
            AtomicInteger wip = new AtomicInteger();
            AtomicInteger next = new AtomicInteger();
            Flow.Subscription sub = new Flow.Subscription() {
                @Override
                public void request(long n) {
                    demand.getAndAccumulate(n, (a, b) -> a + b < 0 ? Long.MAX_VALUE : a + b);
                    drain();
                }

                @Override
                public void cancel() {
                    cancelled.set(true);
                }

                private void drain() {
                    if (wip.getAndIncrement() != 0) {
                        return;
                    }
                    int missed = 1;
                    do {
                        while (!cancelled.get() && demand.get() > 0 && next.get() < count) {
                            demand.decrementAndGet();
                            int i = next.getAndIncrement();
                            emitted.incrementAndGet();
                            s.onNext(io.netty.buffer.ByteBufAllocator.DEFAULT.buffer(size)
                                    .writeBytes(bufferBytes(seed, i, size)));
                        }
                        if (!cancelled.get() && next.get() == count) {
                            next.incrementAndGet();
                            s.onComplete();
                        }
                        missed = wip.addAndGet(-missed);
                    } while (missed != 0);
                }
            };
            s.onSubscribe(sub);
        }
    }
}
