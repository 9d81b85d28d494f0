package io.nbdnetty.client;

import io.nbdnetty.client.NbdEventLoops.Transport;
import io.nbdnetty.client.internal.BusyPollStrategy;
import io.nbdnetty.testing.peers.PeerServer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SelectStrategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.nbdnetty.client.TestSupport.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Busy-polling event loops ({@link NbdEventLoops#newGroup(Transport, int, Duration)}). */
class BusyPollTest {
    /** A clock the test moves by hand, and a poll that returns what the test says, counting its calls. */
    private long now = 1_000;
    private int ready;
    private int polls;

    private int strategy(BusyPollStrategy s, boolean hasTasks) throws Exception {
        return s.calculateStrategy(() -> {
            polls++;
            return ready;
        }, hasTasks);
    }

    /** A strategy with one request in flight, as the tests of the window need. */
    private BusyPollStrategy awaiting(long spinNanos) {
        BusyPollStrategy s = new BusyPollStrategy(spinNanos, () -> now);
        s.requests(1, 0);
        return s;
    }

    @Test
    void pollsWithoutSleepingUntilTheWindowEndsThenSleeps() throws Exception {
        BusyPollStrategy s = awaiting(30_000);
        assertEquals(SelectStrategy.CONTINUE, strategy(s, false), "nothing ready: poll again, do not sleep");
        now += 29_999;
        assertEquals(SelectStrategy.CONTINUE, strategy(s, false));
        assertEquals(2, polls);
        now += 1;
        assertEquals(SelectStrategy.SELECT, strategy(s, false), "the window is over: sleep");
        assertEquals(2, polls, "no poll once the window is over");
        // After the sleep, a new window.
        now += 5_000_000;
        assertEquals(SelectStrategy.CONTINUE, strategy(s, false));
        now += 10_000;
        ready = 3;
        assertEquals(3, strategy(s, false), "work found: handled at once");
        // Work found restarts the window: 29.999 us later it still polls.
        ready = 0;
        now += 1_000;
        assertEquals(SelectStrategy.CONTINUE, strategy(s, false));
        now += 29_999;
        assertEquals(SelectStrategy.CONTINUE, strategy(s, false));
        now += 1;
        assertEquals(SelectStrategy.SELECT, strategy(s, false));
    }

    @Test
    void sleepsAtOnceWhileNoRequestIsInFlight() throws Exception {
        BusyPollStrategy s = new BusyPollStrategy(30_000, () -> now);
        assertEquals(SelectStrategy.SELECT, strategy(s, false), "nothing in flight: nothing to poll for");
        assertEquals(0, polls);
        s.requests(1, 0);
        s.requests(1, 0);
        assertEquals(SelectStrategy.CONTINUE, strategy(s, false), "two requests in flight");
        s.requests(-1, 0);
        assertEquals(SelectStrategy.CONTINUE, strategy(s, false), "one still is");
        s.requests(-1, 0);
        assertEquals(SelectStrategy.SELECT, strategy(s, false), "none is: sleep within the window too");
        assertEquals(2, polls);
        s.requests(1, 0);
        now += 1_000;
        assertEquals(SelectStrategy.CONTINUE, strategy(s, false), "a new request: a new window");
    }

    @Test
    void pollsOnlyWithFewRequestsInFlightOrALargeRead() throws Exception {
        BusyPollStrategy s = awaiting(30_000);
        s.requests(BusyPollStrategy.POLL_BELOW_REQUESTS - 2, 0);
        assertEquals(SelectStrategy.CONTINUE, strategy(s, false), "a few small requests in flight: poll");
        s.requests(1, 0);
        assertEquals(SelectStrategy.SELECT, strategy(s, false), "enough small requests in flight: sleep at once");
        assertEquals(1, polls, "no poll for that one");
        s.requests(1, 1);
        assertEquals(SelectStrategy.CONTINUE, strategy(s, false), "a large read among them: poll again");
        s.requests(-1, -1);
        assertEquals(SelectStrategy.SELECT, strategy(s, false), "the large read answered");
        s.requests(-2, 0);
        assertEquals(SelectStrategy.CONTINUE, strategy(s, false), "fewer again");
        assertEquals(BusyPollStrategy.POLL_BELOW_REQUESTS - 2, s.requestsInFlight());
        assertTrue(BusyPollStrategy.isLargeRead(true, BusyPollStrategy.LARGE_READ));
        assertTrue(!BusyPollStrategy.isLargeRead(true, BusyPollStrategy.LARGE_READ - 1));
        assertTrue(!BusyPollStrategy.isLargeRead(false, 1 << 20), "a write's reply is small however long the write");
    }

    @Test
    void tasksWaitingMeanANonBlockingPollAsNettyDoes() throws Exception {
        BusyPollStrategy s = new BusyPollStrategy(30_000, () -> now);
        ready = 0;
        assertEquals(0, strategy(s, true));
        ready = 2;
        assertEquals(2, strategy(s, true));
        assertEquals(2, polls);
    }

    @Test
    void theWindowSurvivesAClockNearItsWrap() throws Exception {
        now = Long.MAX_VALUE - 10_000;
        BusyPollStrategy s = awaiting(30_000);
        assertEquals(SelectStrategy.CONTINUE, strategy(s, false));
        now += 20_000; // wrapped
        assertEquals(SelectStrategy.CONTINUE, strategy(s, false));
        now += 10_000;
        assertEquals(SelectStrategy.SELECT, strategy(s, false));
    }

    @Test
    void refusesWhatItCannotDo() {
        assertThrows(IllegalArgumentException.class,
                () -> NbdEventLoops.newGroup(Transport.NIO, 1, Duration.ofNanos(-1)));
        assertThrows(IllegalArgumentException.class,
                () -> NbdEventLoops.newGroup(Transport.IO_URING, 1, Duration.ofNanos(30_000)));
        assertThrows(NullPointerException.class, () -> NbdEventLoops.newGroup(Transport.NIO, 1, null));
    }

    /** How many requests the strategy of {@code group}'s one loop counts in flight, -1 if it has no strategy. */
    private static int requestsOn(EventLoopGroup group) throws Exception {
        return group.next().submit(() -> {
            BusyPollStrategy s = BusyPollStrategy.current();
            return s == null ? -1 : s.requestsInFlight();
        }).get(10, TimeUnit.SECONDS);
    }

    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"EPOLL", "NIO"})
    void theLoopCountsEachConnectionsRequestsInFlight(Transport t) throws Exception {
        TransportInteropTest.requireTransport(t);
        EventLoopGroup group = NbdEventLoops.newGroup(t, 1); // the library's default window
        try (PeerServer server = PeerServer.nbdkit("memory", "size=8M").filter("delay", "rdelay=400ms").start();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().build(), group);
             NbdHandle h2 = NbdHandle.create(NbdClientConfig.builder().build(), group)) {
            NbdConnection c = await(h.connectUnix(server.socketPath()));
            NbdConnection c2 = await(h2.connectUnix(server.socketPath()));
            assertEquals(0, requestsOn(group), "connected, nothing in flight");
            CompletableFuture<io.netty.buffer.ByteBuf> r1 = c.read(0, 4096);
            CompletableFuture<io.netty.buffer.ByteBuf> r2 = c.read(4096, 4096);
            CompletableFuture<io.netty.buffer.ByteBuf> r3 = c2.read(0, 4096);
            assertEquals(3, requestsOn(group), "three reads in flight on the loop, from two connections");
            TestSupport.bytes(await(r1));
            TestSupport.bytes(await(r2));
            TestSupport.bytes(await(r3));
            assertEquals(0, requestsOn(group), "every reply in");
            // A connection that dies with reads in flight stops counting too.
            CompletableFuture<io.netty.buffer.ByteBuf> lost = c.read(0, 4096);
            CompletableFuture<io.netty.buffer.ByteBuf> lostLarge = c.read(0, 128 * 1024);
            assertEquals(2, requestsOn(group));
            assertEquals(1, group.next().submit(() -> BusyPollStrategy.current().largeReadsInFlight())
                    .get(10, TimeUnit.SECONDS), "the 128 KiB read counts as large");
            server.kill();
            assertThrows(java.util.concurrent.ExecutionException.class, () -> lost.get(10, TimeUnit.SECONDS));
            assertThrows(java.util.concurrent.ExecutionException.class, () -> lostLarge.get(10, TimeUnit.SECONDS));
            assertEquals(0, group.next().submit(() -> BusyPollStrategy.current().largeReadsInFlight())
                    .get(10, TimeUnit.SECONDS), "nor the large one");
            assertEquals(0, requestsOn(group), "the dead connection's reads failed and are no longer counted");
        } finally {
            assertTrue(group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void aPrivateGroupPollsAndAnUnpolledGroupHasNoStrategy() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=8M").filter("delay", "rdelay=300ms").start();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().build())) {
            NbdConnection c = await(h.connectUnix(server.socketPath()));
            CompletableFuture<io.netty.buffer.ByteBuf> r = c.read(0, 4096);
            int n = c.eventLoop().submit(() -> BusyPollStrategy.current().requestsInFlight())
                    .get(10, TimeUnit.SECONDS);
            assertEquals(1, n, "the handle's own loop counts its read");
            TestSupport.bytes(await(r));
        }
        EventLoopGroup off = NbdEventLoops.newGroup(NbdEventLoops.defaultTransport(), 1, Duration.ZERO);
        try {
            assertEquals(-1, requestsOn(off), "Duration.ZERO: Netty's own strategy, nothing to count");
        } finally {
            assertTrue(off.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS));
        }
    }

    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"EPOLL", "NIO"})
    void readsAndWritesAtQueueDepthOneAndTheThreadsEnd(Transport t) throws Exception {
        TransportInteropTest.requireTransport(t);
        EventLoopGroup group = NbdEventLoops.newGroup(t, 1, Duration.ofNanos(50_000));
        try (PeerServer server = PeerServer.nbdkit("memory", "size=8M").start();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().build(), group)) {
            NbdConnection c = await(h.connectUnix(server.socketPath()));
            // One request at a time, each issued when the last completes: the loop polls between them.
            for (int i = 0; i < 200; i++) {
                byte[] data = TestSupport.pattern(4096, i);
                await(c.write(i * 4096L, io.netty.buffer.Unpooled.wrappedBuffer(data)));
                assertTrue(java.util.Arrays.equals(data, TestSupport.bytes(await(c.read(i * 4096L, 4096)))),
                        "read back " + i);
            }
            List<CompletableFuture<byte[]>> reads = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                reads.add(c.read(i * 4096L, 4096).thenApply(TestSupport::bytes));
            }
            for (int i = 0; i < 200; i++) {
                assertTrue(java.util.Arrays.equals(TestSupport.pattern(4096, i), await(reads.get(i))), "read " + i);
            }
            await(c.disconnect());
        } finally {
            assertTrue(group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS));
            assertTrue(group.isTerminated(), "a busy-polling loop still ends when asked");
        }
    }
}
