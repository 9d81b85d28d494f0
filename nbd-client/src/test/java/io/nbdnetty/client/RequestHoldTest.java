package io.nbdnetty.client;

import io.nbdnetty.client.ScriptedServer.Req;
import io.nbdnetty.client.internal.FlushPolicy;
import io.nbdnetty.codec.NbdErrno;
import io.nbdnetty.codec.NbdSimpleReply;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.bytes;
import static io.nbdnetty.client.TestSupport.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Requests held back on a local connection while the server has a backlog ({@code FlushPolicy.holdBack}) still go
 * out when that server answers nothing until it has them.
 */
class RequestHoldTest {
    private static final int FIRST = FlushPolicy.HOLD_BACKLOG;
    private static final int MORE = 4;

    @Test
    void heldRequestsReachAServerThatWaitsForThemOverAUnixSocket() throws Exception {
        serverWaitsForAll(false);
    }

    @Test
    void heldRequestsReachAServerThatWaitsForThemOverLoopbackTcp() throws Exception {
        serverWaitsForAll(true);
    }

    /**
     * The server reads {@code FIRST} requests (a backlog of that many: the next ones are held), then waits for
     * {@code MORE} before it answers any: without the bound on holding, neither side would move.
     */
    private static void serverWaitsForAll(boolean tcp) throws Exception {
        CountDownLatch firstArrived = new CountDownLatch(1);
        ScriptedServer.Script script = p -> {
            p.handshake(false);
            List<Req> reqs = new ArrayList<>();
            for (int i = 0; i < FIRST; i++) {
                reqs.add(p.readRequest());
            }
            firstArrived.countDown();
            for (int i = 0; i < MORE; i++) {
                reqs.add(p.readRequest());
            }
            for (Req r : reqs) {
                p.send(new NbdSimpleReply(r.cookie(), NbdErrno.OK,
                        Unpooled.wrappedBuffer(pattern((int) r.length(), (int) (r.offset() / 512)))));
            }
            p.awaitClientClose();
        };
        try (ScriptedServer s = tcp ? ScriptedServer.startTcp(script) : ScriptedServer.start(script);
                NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(s.connect()));
            List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
            for (int i = 0; i < FIRST; i++) {
                reads.add(c.read(i * 512L, 512));
            }
            assertTrue(firstArrived.await(10, TimeUnit.SECONDS), "the first requests reached the server");
            for (int i = FIRST; i < FIRST + MORE; i++) {
                reads.add(c.read(i * 512L, 512));
            }
            for (int i = 0; i < reads.size(); i++) {
                assertArrayEquals(pattern(512, i), bytes(await(reads.get(i))), "read " + i); // bytes() releases
            }
            await(c.disconnect());
            s.awaitScript();
        }
    }

    @Test
    void onlyLocalConnectionsHold() {
        EmbeddedChannel embedded = new EmbeddedChannel();
        try {
            assertFalse(FlushPolicy.isLocal(embedded), "an address that is neither a Unix socket nor loopback");
        } finally {
            embedded.finishAndReleaseAll();
        }
    }
}
