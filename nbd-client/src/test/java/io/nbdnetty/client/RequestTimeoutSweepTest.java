package io.nbdnetty.client;

import io.nbdnetty.client.ScriptedServer.Req;
import io.nbdnetty.codec.NbdErrno;
import io.nbdnetty.codec.NbdSimpleReply;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static io.nbdnetty.client.TestSupport.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Request timeouts are swept by one timer per connection: requests issued at different times, some answered and some
 * never, each unanswered one fails with {@link NbdTimeoutException} no sooner than its own timeout after it was
 * issued and not much later, and every answered one completes with its data.
 */
class RequestTimeoutSweepTest {
    private static final Duration TIMEOUT = Duration.ofMillis(300);
    private static final int N = 16;

    @Test
    void eachUnansweredRequestTimesOutOnItsOwnDeadlineAndAnsweredOnesComplete() throws Exception {
        ScriptedServer.Script script = p -> {
            p.handshake(false);
            for (int i = 0; i < N; i++) {
                Req r = p.readRequest();
                if ((r.offset() / 512) % 2 == 0) { // even reads are answered, odd ones never
                    p.send(new NbdSimpleReply(r.cookie(), NbdErrno.OK,
                            Unpooled.buffer(8).writeLong(r.offset())));
                }
            }
            p.awaitClientClose();
        };
        try (ScriptedServer s = ScriptedServer.start(script);
                NbdHandle h = NbdHandle.create(NbdClientConfig.builder().requestTimeout(TIMEOUT).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
            List<Long> issued = new ArrayList<>();
            List<Long> failedAt = new ArrayList<>();
            for (int i = 0; i < N; i++) {
                issued.add(System.nanoTime());
                CompletableFuture<ByteBuf> f = c.read(i * 512L, 8);
                int ii = i;
                f.whenComplete((b, e) -> {
                    if (e != null) {
                        synchronized (failedAt) {
                            failedAt.add(((long) ii << 48) | (System.nanoTime() - issued.get(ii)) / 1000);
                        }
                    }
                });
                reads.add(f);
                Thread.sleep(25); // staggered deadlines: the sweep must run again for each
            }
            for (int i = 0; i < N; i++) {
                if (i % 2 == 0) {
                    ByteBuf b = await(reads.get(i));
                    try {
                        assertEquals(i * 512L, b.readLong(), "read " + i);
                    } finally {
                        b.release();
                    }
                } else {
                    int ii = i;
                    ExecutionException e = assertThrows(ExecutionException.class,
                            () -> reads.get(ii).get(10, TimeUnit.SECONDS));
                    assertInstanceOf(NbdTimeoutException.class, e.getCause(), "read " + i);
                }
            }
            synchronized (failedAt) {
                assertEquals(N / 2, failedAt.size());
                for (long x : failedAt) {
                    int i = (int) (x >>> 48);
                    long micros = x & ((1L << 48) - 1);
                    assertEquals(1, i % 2, "only unanswered reads fail");
                    assertTrue(micros >= TIMEOUT.toNanos() / 1000,
                            "read " + i + " failed after " + micros + " us, before its timeout");
                    // Late by at most 1/32 of the timeout plus scheduling; 250 ms of slack for a loaded machine.
                    assertTrue(micros < TIMEOUT.toNanos() / 1000 + 250_000,
                            "read " + i + " failed only after " + micros + " us");
                }
            }
            assertEquals(N / 2, c.stats().requestsFailed());
            assertEquals(N / 2, c.inFlight(), "timed-out reads stay in flight until a late reply or the end");
        }
    }
}
