package io.nbdnetty.client;

import io.nbdnetty.client.stream.NbdStreams;
import io.nbdnetty.client.stream.NbdWriteSubscriber;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.bytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link NbdStreams}: the read and extents publishers and the write subscriber, against nbdkit. */
class NbdStreamsTest {
    private static final String BASE = NbdMetaContext.BASE_ALLOCATION;

    private static NbdClientConfig config() {
        return NbdClientConfig.builder().addMetaContext(BASE).maxInFlightRequests(64).build();
    }

    private static void waitUntil(java.util.function.BooleanSupplier cond, String what) throws InterruptedException {
        for (int i = 0; i < 400 && !cond.getAsBoolean(); i++) {
            Thread.sleep(25);
        }
        assertTrue(cond.getAsBoolean(), what);
    }

    /** A subscriber that asks for one chunk at a time, a little later, from another thread. */
    private static final class SlowSubscriber implements Flow.Subscriber<ByteBuf> {
        final ScheduledExecutorService timer;
        final ByteArrayOutputStream data = new ByteArrayOutputStream();
        final CompletableFuture<byte[]> done = new CompletableFuture<>();
        final int cancelAfter;
        int received;
        Flow.Subscription s;

        SlowSubscriber(ScheduledExecutorService timer, int cancelAfter) {
            this.timer = timer;
            this.cancelAfter = cancelAfter;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            this.s = s;
            s.request(1);
        }

        @Override
        public void onNext(ByteBuf b) {
            synchronized (data) {
                data.writeBytes(bytes(b));
            }
            if (++received == cancelAfter) {
                s.cancel();
                done.complete(data.toByteArray());
                return;
            }
            timer.schedule(() -> s.request(1), 2, TimeUnit.MILLISECONDS);
        }

        @Override
        public void onError(Throwable t) {
            done.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            synchronized (data) {
                done.complete(data.toByteArray());
            }
        }
    }

    @Test
    void slowSubscriberKeepsReadsInFlightWithinTheWindowAndGetsTheSameBytesAsADirectRead() throws Exception {
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        try (PeerServer server = PeerServer.nbdkit("sparse-random", "size=64M", "seed=7").readOnly().start();
             NbdHandle h = NbdHandle.create(config())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            CountingDevice dev = new CountingDevice(c);
            long offset = 3 * 1024 * 1024 + 17;
            int length = 5 * 1024 * 1024 + 1234;
            int window = 4;
            SlowSubscriber sub = new SlowSubscriber(timer, -1);
            NbdStreams.read(dev, offset, length, 64 * 1024, window).subscribe(sub);
            byte[] streamed = await(sub.done);
            byte[] direct = bytes(await(c.read(offset, length)));
            assertArrayEquals(direct, streamed);
            assertEquals((length + 65535) / 65536, dev.reads.get());
            assertTrue(dev.maxReadsOutstanding.get() <= window, "reads in flight peaked at "
                    + dev.maxReadsOutstanding.get() + ", window " + window);
            assertTrue(dev.maxReadsOutstanding.get() >= 2, "reads were issued ahead");
            assertEquals(0, c.stats().inFlight());
        } finally {
            timer.shutdownNow();
        }
    }

    @Test
    void patternDataArrivesInOrderWithABigWindow() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("pattern", "size=16M").readOnly().start();
             NbdHandle h = NbdHandle.create(config())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            List<ByteBuf> chunks = await(FlowTesting.collect(NbdStreams.read(c, 8192, 4 << 20, 32768, 32)));
            assertEquals(128, chunks.size());
            long at = 8192;
            for (ByteBuf b : chunks) {
                try {
                    for (int k = 0; k < b.readableBytes(); k += 8) {
                        assertEquals(at + k, b.getLong(b.readerIndex() + k), "pattern word at " + (at + k));
                    }
                    at += b.readableBytes();
                } finally {
                    b.release();
                }
            }
            assertEquals(8192 + (4 << 20), at);
        }
    }

    @Test
    void cancelMidStreamReleasesEveryChunkAndTheReadsInFlightDrain() throws Exception {
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        try (PeerServer server = PeerServer.nbdkit("pattern", "size=16M").readOnly()
                .filter("delay", "rdelay=50ms").start();
             NbdHandle h = NbdHandle.create(config())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            CountingDevice dev = new CountingDevice(c);
            SlowSubscriber sub = new SlowSubscriber(timer, 3);
            NbdStreams.read(dev, 0, 8 << 20, 65536, 8).subscribe(sub);
            assertEquals(3 * 65536, await(sub.done).length);
            // Chunks read ahead arrive after the cancel and are released by the publisher.
            waitUntil(() -> dev.readsOutstanding.get() == 0 && c.inFlight() == 0, "reads in flight drain");
            int issued = dev.reads.get();
            assertTrue(issued <= 3 + 8, "no reads after cancel beyond the window: " + issued);
            Thread.sleep(200);
            assertEquals(issued, dev.reads.get(), "nothing is read after cancel");
        } finally {
            timer.shutdownNow();
        }
    }

    @Test
    void ruleViolationsAndErrorsEndTheStreamWithOnError() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("pattern", "size=1M").readOnly().start();
             NbdHandle h = NbdHandle.create(config())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            // request(0) -> onError(IllegalArgumentException), rule 3.9.
            AtomicReference<Throwable> error = new AtomicReference<>();
            AtomicInteger signals = new AtomicInteger();
            Flow.Publisher<ByteBuf> p = NbdStreams.read(c, 0, 1 << 20, 4096, 4);
            p.subscribe(new Flow.Subscriber<>() {
                @Override
                public void onSubscribe(Flow.Subscription s) {
                    s.request(0);
                }

                @Override
                public void onNext(ByteBuf item) {
                    item.release();
                    signals.incrementAndGet();
                }

                @Override
                public void onError(Throwable t) {
                    error.set(t);
                    signals.incrementAndGet();
                }

                @Override
                public void onComplete() {
                    signals.incrementAndGet();
                }
            });
            assertInstanceOf(IllegalArgumentException.class, error.get());
            assertEquals(1, signals.get());
            // A second subscriber is refused.
            ExecutionException twice = assertThrows(ExecutionException.class, () -> await(FlowTesting.collect(p)));
            assertInstanceOf(IllegalStateException.class, twice.getCause());
            // A read past the end fails; the error reaches onError after the good chunks.
            ExecutionException past = assertThrows(ExecutionException.class,
                    () -> await(FlowTesting.collect(NbdStreams.read(c, (1 << 20) - 8192, 16384, 4096, 4))));
            assertInstanceOf(NbdStrictModeException.class, past.getCause());
            // An empty range completes at once.
            assertEquals(0, await(FlowTesting.collect(NbdStreams.read(c, 0, 0, 4096, 4))).size());
            assertEquals(0, await(FlowTesting.collect(NbdStreams.extents(c, BASE, 100, 0))).size());
        }
    }

    private static List<NbdExtent> merged(List<NbdExtent> extents) {
        List<NbdExtent> out = new ArrayList<>();
        for (NbdExtent e : extents) {
            NbdExtent last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && last.end() == e.offset() && last.flags() == e.flags()) {
                out.set(out.size() - 1, new NbdExtent(last.offset(), last.length() + e.length(), e.flags()));
            } else {
                out.add(e);
            }
        }
        return out;
    }

    private static void assertCovers(List<NbdExtent> extents, long offset, long length) {
        long at = offset;
        for (NbdExtent e : extents) {
            assertEquals(at, e.offset(), "contiguous");
            assertTrue(e.length() > 0);
            at = e.end();
        }
        assertEquals(offset + length, at, "the extents end exactly at the end of the range");
    }

    @Test
    void extentsCoverTheRangeExactlyAndMatchOneBigBlockStatus() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=64M").start();
             NbdHandle h = NbdHandle.create(config())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            Random rnd = new Random(3);
            for (int i = 0; i < 20; i++) {
                byte[] d = new byte[4096 * (1 + rnd.nextInt(16))];
                rnd.nextBytes(d);
                await(c.write(4096L * rnd.nextInt(16000), Unpooled.wrappedBuffer(d)));
            }
            long size = c.size();
            List<NbdExtent> streamed = await(FlowTesting.collect(NbdStreams.extents(c, BASE, 0, size)));
            assertCovers(streamed, 0, size);
            List<NbdExtent> big = await(c.blockStatus(0, size, 0)).extents(BASE);
            assertEquals(size, big.get(big.size() - 1).end(), "nbdkit memory answers the whole range at once");
            assertEquals(big, streamed);
            assertTrue(streamed.stream().anyMatch(e -> !e.isHole()) && streamed.stream().anyMatch(NbdExtent::isHole));

            // Forced to walk in 1 MiB answers over an unaligned range: still exact, same allocation map.
            CountingDevice capped = new CountingDevice(c, 1 << 20);
            long offset = 12345;
            long length = 40_000_000;
            List<NbdExtent> walked = await(FlowTesting.collect(NbdStreams.extents(capped, BASE, offset, length)));
            assertCovers(walked, offset, length);
            assertTrue(capped.blockStatusCalls.get() >= 38, "walked in many calls: " + capped.blockStatusCalls);
            List<NbdExtent> clipped = new ArrayList<>();
            for (NbdExtent e : big) {
                long s = Math.max(e.offset(), offset);
                long t = Math.min(e.end(), offset + length);
                if (s < t) {
                    clipped.add(new NbdExtent(s, t - s, e.flags()));
                }
            }
            assertEquals(merged(clipped), merged(walked));
        }
    }

    @Test
    void extentsOfSparseRandomHonourDemandOneAtATime() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("sparse-random", "size=256M", "seed=11", "runlength=262144",
                "percent=30").readOnly().start();
             NbdHandle h = NbdHandle.create(config())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            CountingDevice dev = new CountingDevice(c);
            List<NbdExtent> got = new ArrayList<>();
            CompletableFuture<Void> done = new CompletableFuture<>();
            AtomicInteger outstanding = new AtomicInteger();
            AtomicInteger violations = new AtomicInteger();
            NbdStreams.extents(dev, BASE, 0, c.size()).subscribe(new Flow.Subscriber<>() {
                Flow.Subscription s;

                @Override
                public void onSubscribe(Flow.Subscription s) {
                    this.s = s;
                    outstanding.incrementAndGet();
                    s.request(1);
                }

                @Override
                public void onNext(NbdExtent e) {
                    if (outstanding.decrementAndGet() < 0) {
                        violations.incrementAndGet();
                    }
                    got.add(e);
                    outstanding.incrementAndGet();
                    s.request(1);
                }

                @Override
                public void onError(Throwable t) {
                    done.completeExceptionally(t);
                }

                @Override
                public void onComplete() {
                    done.complete(null);
                }
            });
            await(done);
            assertEquals(0, violations.get());
            assertCovers(got, 0, c.size());
            assertTrue(got.size() > 10, "sparse-random has many extents: " + got.size());
            NbdBlockStatus big = await(c.blockStatus(0, c.size(), 0));
            List<NbdExtent> all = big.extents(BASE);
            if (all.get(all.size() - 1).end() >= c.size()) {
                assertEquals(all, got);
            } else {
                assertTrue(dev.blockStatusCalls.get() > 1, "the server answered less, so the walk asked again");
            }
        }
    }

    @Test
    void writerStaysUnderItsBoundAndTheDataRoundTrips() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=64M").start();
             NbdHandle h = NbdHandle.create(config())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            CountingDevice dev = new CountingDevice(c);
            FlowTesting.BufferPublisher source = new FlowTesting.BufferPublisher(1000, 6000, 5);
            long bound = 64 * 1024;
            NbdWriteSubscriber writer = NbdStreams.write(dev, 1 << 20, bound);
            source.subscribe(writer);
            assertEquals(6_000_000L, await(writer.result()));
            assertTrue(dev.maxWriteBytesOutstanding.get() <= bound, "in flight peaked at "
                    + dev.maxWriteBytesOutstanding.get());
            assertTrue(dev.maxWriteBytesOutstanding.get() > 6000, "writes were pipelined");
            assertTrue(writer.maxInFlightBytesSeen() <= bound);
            assertEquals(1000, dev.writes.get());
            assertArrayEquals(source.expected(), bytes(await(c.read(1 << 20, 6_000_000))));

            // Copy with the two together: a read publisher into a write subscriber.
            NbdWriteSubscriber copy = NbdStreams.write(c, 32 << 20, 256 * 1024);
            NbdStreams.read(c, 1 << 20, 6_000_000, 100_000, 4).subscribe(copy);
            assertEquals(6_000_000L, await(copy.result()));
            assertArrayEquals(source.expected(), bytes(await(c.read(32 << 20, 6_000_000))));
        }
    }

    @Test
    void aFailedWriteCancelsTheUpstreamReleasesWhatItHoldsAndFailsTheResult() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").start();
             NbdHandle h = NbdHandle.create(config())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            // 300 x 6000 bytes from 512 KiB runs past the end of the 1 MiB export.
            FlowTesting.BufferPublisher source = new FlowTesting.BufferPublisher(300, 6000, 9);
            NbdWriteSubscriber writer = NbdStreams.write(c, 512 * 1024, 32 * 1024);
            source.subscribe(writer);
            ExecutionException e = assertThrows(ExecutionException.class, () -> await(writer.result()));
            assertInstanceOf(NbdStrictModeException.class, e.getCause());
            assertTrue(source.cancelled.get(), "upstream cancelled");
            assertTrue(source.emitted.get() < 300, "stopped early: " + source.emitted.get());
            waitUntil(() -> c.inFlight() == 0, "writes in flight drain");
        }
    }
}
