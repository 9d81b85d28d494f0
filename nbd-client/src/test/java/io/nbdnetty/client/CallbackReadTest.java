package io.nbdnetty.client;

import io.nbdnetty.client.ScriptedServer.Req;
import io.nbdnetty.codec.NbdOffsetDataChunk;
import io.nbdnetty.codec.NbdReplyFlags;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.nbdnetty.client.TestSupport.assertDead;
import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.bytes;
import static io.nbdnetty.client.TestSupport.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link NbdConnection#read(long, int, int, NbdReadCallback)}: each call's callback exactly once, with its own data,
 * although the connection reuses the request objects of finished callback reads.
 */
class CallbackReadTest {

    /** One callback's result. */
    record Result(long offset, int length, byte[] data, Throwable error) {
    }

    /** Records results, copying and releasing the data. */
    static final class Recorder implements NbdReadCallback {
        final List<Result> results = new CopyOnWriteArrayList<>();

        @Override
        public void readCompleted(long offset, int length, ByteBuf data, Throwable error) {
            byte[] copy = data == null ? null : bytes(data); // bytes() releases it
            results.add(new Result(offset, length, copy, error));
        }
    }

    @Test
    void chainedReadsOnTheEventLoopEachGetTheirOwnDataStructured() throws Exception {
        chainedReads(NbdClientConfig.defaults());
    }

    @Test
    void chainedReadsOnTheEventLoopEachGetTheirOwnDataSimple() throws Exception {
        chainedReads(NbdClientConfig.builder().requestStructuredReplies(false).build());
    }

    /**
     * Eight chains of reads against nbdkit's pattern plugin (each 8-byte word holds its offset), every read after
     * the first issued from the previous one's callback on the event loop, so from reused requests.
     */
    private static void chainedReads(NbdClientConfig config) throws Exception {
        int perChain = 200;
        int chains = 8;
        int length = 4096;
        try (PeerServer server = PeerServer.nbdkit("pattern", "size=16M").readOnly().start();
             NbdHandle h = NbdHandle.create(config)) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            CompletableFuture<Void> done = new CompletableFuture<>();
            AtomicInteger finished = new AtomicInteger();
            AtomicInteger calls = new AtomicInteger();
            List<String> problems = new CopyOnWriteArrayList<>();
            NbdReadCallback callback = new NbdReadCallback() {
                @Override
                public void readCompleted(long offset, int len, ByteBuf data, Throwable error) {
                    int n = calls.incrementAndGet();
                    if (error != null) {
                        problems.add(offset + ": " + error);
                        done.completeExceptionally(error);
                        return;
                    }
                    try {
                        if (len != length || data.readableBytes() != length) {
                            problems.add(offset + ": " + data.readableBytes() + " bytes");
                        }
                        for (int i = 0; i < length; i += 8) {
                            if (data.getLong(data.readerIndex() + i) != offset + i) {
                                problems.add(offset + ": word " + i + " holds " + data.getLong(data.readerIndex() + i));
                                break;
                            }
                        }
                    } finally {
                        data.release();
                    }
                    // The chain's next read: chain k reads offsets k*length + m*chains*length.
                    long next = offset + (long) chains * length;
                    if (next < (long) perChain * chains * length) {
                        c.read(next, length, 0, this);
                    } else if (finished.incrementAndGet() == chains) {
                        done.complete(null);
                    }
                    if (n > perChain * chains) {
                        problems.add("more callbacks than reads");
                    }
                }
            };
            for (int k = 0; k < chains; k++) {
                c.read((long) k * length, length, 0, callback);
            }
            done.get(30, TimeUnit.SECONDS);
            assertEquals(List.of(), problems);
            assertEquals(perChain * chains, calls.get());
            assertEquals(perChain * chains, c.stats().requestsCompleted());
            assertEquals(0, c.inFlight());
        }
    }

    @Test
    void aLateReplyToATimedOutReadIsDroppedAndNeverReachesTheReadThatReusesItsRequest() throws Exception {
        byte[] late = pattern(8, 1);
        byte[] second = pattern(8, 2);
        CompletableFuture<Void> timedOut = new CompletableFuture<>();
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true);
            Req first = p.readRequest();
            timedOut.get(10, TimeUnit.SECONDS);
            // The late reply: checked and dropped by the client, the request then reused.
            p.send(new NbdOffsetDataChunk(NbdReplyFlags.DONE, first.cookie(), 0, first.offset(),
                    Unpooled.wrappedBuffer(late)));
            Req x = p.readRequest();
            p.send(new NbdOffsetDataChunk(NbdReplyFlags.DONE, x.cookie(), 0, x.offset(),
                    Unpooled.wrappedBuffer(pattern(8, 3))));
            Req reuse = p.readRequest();
            assertTrue(reuse.cookie() != first.cookie(), "a new cookie for the reused request");
            p.send(new NbdOffsetDataChunk(NbdReplyFlags.DONE, reuse.cookie(), 0, reuse.offset(),
                    Unpooled.wrappedBuffer(second)));
            // The first read's reply once more: its cookie is no longer in flight, so the client must refuse it
            // rather than give it to the request that now serves another read.
            p.send(new NbdOffsetDataChunk(NbdReplyFlags.DONE, first.cookie(), 0, first.offset(),
                    Unpooled.wrappedBuffer(late)));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().requestTimeout(Duration.ofMillis(200))
                .build())) {
            NbdConnection c = await(h.connect(s.connect()));
            Recorder firstCallback = new Recorder();
            Recorder reuseCallback = new Recorder();
            c.read(0, 8, 0, (offset, length, data, error) -> {
                firstCallback.readCompleted(offset, length, data, error);
                timedOut.complete(null);
            });
            timedOut.get(10, TimeUnit.SECONDS);
            AtomicReference<Throwable> xError = new AtomicReference<>();
            CompletableFuture<Void> xDone = new CompletableFuture<>();
            // Issued from this thread; its callback, on the event loop, issues the read that reuses a request.
            c.read(64, 8, 0, (offset, length, data, error) -> {
                if (data != null) {
                    data.release();
                }
                xError.set(error);
                c.read(128, 8, 0, reuseCallback);
                xDone.complete(null);
            });
            xDone.get(10, TimeUnit.SECONDS);
            assertNull(xError.get());
            assertDead(h);
            s.awaitScript();

            assertEquals(1, firstCallback.results.size());
            assertInstanceOf(NbdTimeoutException.class, firstCallback.results.get(0).error());
            assertEquals(1, reuseCallback.results.size(), "exactly one callback for the read that reused a request");
            Result r = reuseCallback.results.get(0);
            assertEquals(128, r.offset());
            assertNull(r.error());
            assertArrayEquals(second, r.data());
        }
    }

    @Test
    void aRefusedReadCallsBackOnTheCallingThreadAndAFailedConnectionFailsReadsInFlight() throws Exception {
        CompletableFuture<Void> received = new CompletableFuture<>();
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true);
            p.readRequest();
            received.complete(null);
            p.close();
        }); NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(s.connect()));
            Recorder refused = new Recorder();
            c.read(c.size(), 8, 0, refused);
            assertEquals(1, refused.results.size(), "refused at once, on this thread");
            assertInstanceOf(NbdStrictModeException.class, refused.results.get(0).error());
            assertNull(refused.results.get(0).data());

            Recorder inFlight = new Recorder();
            c.read(0, 8, 0, inFlight);
            received.get(10, TimeUnit.SECONDS);
            assertDead(h);
            for (int i = 0; i < 100 && inFlight.results.isEmpty(); i++) {
                Thread.sleep(20);
            }
            assertEquals(1, inFlight.results.size());
            assertInstanceOf(NbdConnectionClosedException.class, inFlight.results.get(0).error());
            s.awaitScript();
        }
    }
}
