package io.nbdnetty.client;

import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static io.nbdnetty.client.TestSupport.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Requests issued from other threads than the connection's event loop reach it through a hand-over queue that grows
 * in small chunks (a connection at rest holds one small chunk, not 1,024 slots): bursts of thousands of requests from
 * several threads cross many chunks, and none may be lost or overtake an earlier one from the same thread.
 */
class HandOverQueueTest {

    @Test
    void burstsFromSeveralThreadsAllArriveInEachThreadsOrder() throws Exception {
        int threads = 4;
        int perThread = 2000;
        // One request in flight at a time: the requests go out in the order the event loop takes them from the
        // hand-over queue, and each completes before the next is sent, so completions show that order.
        NbdClientConfig config = NbdClientConfig.builder().maxInFlightRequests(1).build();
        try (PeerServer server = PeerServer.nbdkit("pattern", "size=1M").readOnly().start();
             NbdHandle h = NbdHandle.create(config)) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            List<Queue<Long>> completed = new ArrayList<>();
            Queue<String> problems = new ConcurrentLinkedQueue<>();
            CountDownLatch allDone = new CountDownLatch(threads * perThread);
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> callers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Queue<Long> mine = new ConcurrentLinkedQueue<>();
                completed.add(mine);
                int thread = t;
                NbdReadCallback callback = (offset, length, data, error) -> {
                    try {
                        if (error != null) {
                            problems.add(offset + ": " + error);
                        } else if (data.getLong(data.readerIndex()) != offset) {
                            // nbdkit's pattern plugin: each 8-byte word holds its own offset.
                            problems.add(offset + ": holds " + data.getLong(data.readerIndex()));
                        }
                        mine.add(offset);
                    } finally {
                        if (data != null) {
                            data.release();
                        }
                        allDone.countDown();
                    }
                };
                Thread caller = new Thread(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                    for (int i = 0; i < perThread; i++) {
                        c.read(offsetOf(thread, i, threads), 8, 0, callback);
                    }
                }, "caller-" + t);
                caller.start();
                callers.add(caller);
            }
            go.countDown();
            for (Thread caller : callers) {
                caller.join(30_000);
            }
            assertTrue(allDone.await(60, TimeUnit.SECONDS),
                    "every request completes: " + allDone.getCount() + " still outstanding");
            assertEquals(List.of(), new ArrayList<>(problems));
            for (int t = 0; t < threads; t++) {
                List<Long> expected = new ArrayList<>();
                for (int i = 0; i < perThread; i++) {
                    expected.add(offsetOf(t, i, threads));
                }
                assertEquals(expected, new ArrayList<>(completed.get(t)), "thread " + t + "'s requests, in its order");
            }
            assertEquals((long) threads * perThread, c.stats().requestsCompleted());
            assertEquals(0, c.inFlight());
        }
    }

    /** The offset of caller {@code thread}'s {@code i}th read: the threads' words interleave. */
    private static long offsetOf(int thread, int i, int threads) {
        return ((long) i * threads + thread) * 8;
    }
}
