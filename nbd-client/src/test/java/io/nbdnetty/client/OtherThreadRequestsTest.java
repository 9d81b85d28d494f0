package io.nbdnetty.client;

import io.nbdnetty.client.ScriptedServer.Req;
import io.nbdnetty.codec.NbdErrno;
import io.nbdnetty.codec.NbdSimpleReply;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

import static io.nbdnetty.client.TestSupport.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Requests issued on threads other than the connection's event loop are handed over through one queue drained by
 * one task at a time: each thread's requests reach the server in the order it issued them, none is lost when several
 * threads race, and a disconnect issued after them goes out after them.
 */
class OtherThreadRequestsTest {
    private static final int THREADS = 4;
    private static final int PER_THREAD = 300;

    /** Each thread reads its own part of the (1 MiB) export. */
    private static final long PART = 256 * 1024;

    /** The offset a request of thread {@code t} with sequence number {@code i} reads at. */
    private static long offset(int t, int i) {
        return t * PART + i * 512L;
    }

    @Test
    void eachThreadsRequestsReachTheServerInOrderAndAllComplete() throws Exception {
        int total = THREADS * PER_THREAD;
        List<Req> seen = Collections.synchronizedList(new ArrayList<>());
        ScriptedServer.Script script = p -> {
            p.handshake(false);
            for (int n = 0; n < total; n++) {
                Req r = p.readRequest();
                seen.add(r);
                // Answered as they come: the reply carries the offset it was asked for.
                p.send(new NbdSimpleReply(r.cookie(), NbdErrno.OK,
                        Unpooled.buffer(8).writeLong(r.offset())));
            }
            p.awaitClientClose();
        };
        try (ScriptedServer s = ScriptedServer.start(script);
                NbdHandle h = NbdHandle.create(NbdClientConfig.builder().maxInFlightRequests(16).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            List<List<CompletableFuture<ByteBuf>>> reads = new ArrayList<>();
            CyclicBarrier start = new CyclicBarrier(THREADS);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                List<CompletableFuture<ByteBuf>> mine = new ArrayList<>();
                reads.add(mine);
                int tt = t;
                Thread th = new Thread(() -> {
                    try {
                        start.await(10, TimeUnit.SECONDS);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                    for (int i = 0; i < PER_THREAD; i++) {
                        mine.add(c.read(offset(tt, i), 8));
                    }
                }, "issuer-" + t);
                threads.add(th);
                th.start();
            }
            for (Thread th : threads) {
                th.join(TimeUnit.SECONDS.toMillis(30));
                assertTrue(!th.isAlive(), th.getName() + " finished issuing");
            }
            for (int t = 0; t < THREADS; t++) {
                for (int i = 0; i < PER_THREAD; i++) {
                    ByteBuf b = await(reads.get(t).get(i));
                    try {
                        assertEquals(offset(t, i), b.readLong(), "thread " + t + " read " + i);
                    } finally {
                        b.release();
                    }
                }
            }
            assertEquals(total, seen.size());
            int[] next = new int[THREADS];
            long lastCookie = 0;
            for (Req r : seen) {
                int t = (int) (r.offset() / PART);
                long i = r.offset() % PART / 512;
                assertEquals(next[t], i, "thread " + t + "'s requests in the order it issued them");
                next[t]++;
                assertTrue(r.cookie() > lastCookie, "cookies in the order the requests went out");
                lastCookie = r.cookie();
            }
            await(c.disconnect());
            s.awaitScript();
        }
    }

    @Test
    void aDisconnectIssuedAfterRequestsOnTheSameThreadGoesOutAfterThem() throws Exception {
        int n = 200;
        List<Req> seen = new ArrayList<>();
        ScriptedServer.Script script = p -> {
            p.handshake(false);
            while (true) {
                Req r = p.readRequest();
                seen.add(r);
                if (r.type() == 2) { // NBD_CMD_DISC: nothing is answered
                    break;
                }
                p.send(new NbdSimpleReply(r.cookie(), NbdErrno.OK, Unpooled.wrappedBuffer(new byte[8])));
            }
            p.awaitClientClose();
        };
        try (ScriptedServer s = ScriptedServer.start(script); NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(s.connect()));
            // The test's thread is not the event loop: every call below is handed over.
            List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                reads.add(c.read(i * 512L, 8));
            }
            CompletableFuture<Void> disc = c.disconnect();
            for (CompletableFuture<ByteBuf> f : reads) {
                await(f).release();
            }
            await(disc);
            s.awaitScript();
            assertEquals(n + 1, seen.size());
            assertEquals(2, seen.get(n).type(), "the disconnect comes last");
        }
    }
}
