package io.nbdnetty.client;

import io.nbdnetty.codec.NbdCommandType;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static io.nbdnetty.client.TestSupport.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Per-request timeouts, cancellation, the listener and disconnect with a deadline, against a slow nbdkit. */
class TimeoutsAndCancellationTest {

    private static PeerServer slowServer() {
        return PeerServer.nbdkit("pattern", "size=1M").readOnly().filter("delay", "rdelay=1").start();
    }

    @Test
    void timedOutRequestFailsAndTheLateReplyIsDroppedWhileTheConnectionCarriesOn() throws Exception {
        List<Throwable> seen = new CopyOnWriteArrayList<>();
        NbdListener listener = new NbdListener() {
            @Override
            public void requestCompleted(NbdCommandType command, long offset, long length, long latencyNanos,
                    Throwable error) {
                seen.add(error == null ? new Exception("ok") : error);
            }
        };
        try (PeerServer server = slowServer();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().requestTimeout(Duration.ofMillis(200))
                     .listener(listener).build())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            ExecutionException e = assertThrows(ExecutionException.class, () -> await(c.read(0, 4096)));
            NbdTimeoutException te = assertInstanceOf(NbdTimeoutException.class, e.getCause());
            assertTrue(te.getMessage().contains("no reply within"), te.getMessage());
            assertEquals(NbdState.PROCESSING, h.state(), "the timed-out read is still in flight");
            // The late reply arrives, is checked and dropped; the connection is still good.
            for (int i = 0; i < 100 && c.inFlight() > 0; i++) {
                Thread.sleep(50);
            }
            assertEquals(0, c.inFlight());
            assertEquals(NbdState.READY, h.state());
            assertEquals(1, c.stats().requestsFailed());
            assertInstanceOf(NbdTimeoutException.class, seen.get(0));
        }
    }

    @Test
    void cancellingAReadNeverLeaksItsBuffer() throws Exception {
        try (PeerServer server = slowServer(); NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            CompletableFuture<ByteBuf> f = c.read(0, 65536);
            assertTrue(f.cancel(false));
            assertThrows(CancellationException.class, f::join);
            for (int i = 0; i < 100 && c.inFlight() > 0; i++) {
                Thread.sleep(50);
            }
            assertEquals(0, c.inFlight(), "the reply arrived and was released by the connection");
        }
    }

    @Test
    void disconnectWithADeadlineClosesWhenRequestsTakeTooLong() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("pattern", "size=1M").readOnly().filter("delay", "rdelay=10")
                .start();
             NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            CompletableFuture<ByteBuf> slow = c.read(0, 512);
            assertNull(c.disconnect(Duration.ofMillis(300)).get(5, TimeUnit.SECONDS));
            ExecutionException e = assertThrows(ExecutionException.class, () -> slow.get(5, TimeUnit.SECONDS));
            assertInstanceOf(NbdConnectionClosedException.class, e.getCause());
            assertEquals(NbdState.CLOSED, h.state());
            server.kill();
        }
    }

    @Test
    void disconnectWaitsForRequestsInFlight() throws Exception {
        try (PeerServer server = slowServer(); NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            CompletableFuture<ByteBuf> read = c.read(8, 8);
            CompletableFuture<Void> done = c.disconnect();
            ExecutionException refused = assertThrows(ExecutionException.class, () -> await(c.read(0, 8)));
            assertInstanceOf(NbdConnectionClosedException.class, refused.getCause());
            ByteBuf b = await(read);
            try {
                assertEquals(8, b.getLong(0), "nbdkit pattern: the word at offset 8 holds 8");
            } finally {
                b.release();
            }
            await(done);
            assertEquals(NbdState.CLOSED, h.state());
        }
    }
}
