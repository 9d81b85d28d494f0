package io.nbdnetty.client;

import io.nbdnetty.client.device.NbdConnectionPool;
import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static io.nbdnetty.client.TestSupport.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Multi-conn against nbdkit memory (which advertises CAN_MULTI_CONN), nbdkit --no-mc style refusals, and servers that
 * take fewer clients than asked: qemu-nbd -e 2 (extra clients wait unanswered in its listen queue) and nbdkit's limit
 * filter (extra clients are refused).
 */
class NbdConnectionPoolTest {
    @TempDir
    Path dir;

    /** A connector that keeps every handle it made, so the test can check each was closed. */
    private static Supplier<CompletableFuture<NbdConnection>> connector(PeerServer server, NbdClientConfig config,
            List<NbdHandle> made) {
        return () -> {
            NbdHandle h = NbdHandle.create(config);
            synchronized (made) {
                made.add(h);
            }
            return h.connect(NbdUri.parse(server.uri()));
        };
    }

    /** Writes a pattern through the pool, flushes, and checks it reads back on every kept connection. */
    private static void writeAndReadBack(NbdConnectionPool pool) throws Exception {
        byte[] data = TestSupport.pattern(1 << 20, 5);
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            writes.add(pool.write(i * 65536L, Unpooled.wrappedBuffer(data, i * 65536, 65536), 0));
        }
        await(pool.flush());
        for (CompletableFuture<Void> w : writes) {
            await(w);
        }
        for (NbdConnection c : pool.connections()) {
            assertArrayEquals(data, TestSupport.bytes(await(c.read(0, 1 << 20, 0))));
        }
    }

    /** Every handle the connector made, kept or not, is closed and its threads gone. */
    private static void assertAllClosed(List<NbdHandle> made) throws Exception {
        for (NbdHandle h : made) {
            await(h.closeFuture());
            assertTrue(h.state() == NbdState.CLOSED || h.state() == NbdState.DEAD, h.state().toString());
        }
    }

    @Test
    void qemuNbdAcceptingTwoClientsGivesAPoolOfTwoWithoutWaitingForTheHandshakeTimeout() throws Exception {
        Path image = dir.resolve("disk.raw");
        PeerClients.qemuImg("create", "-q", "-f", "raw", image.toString(), "4M").assertSuccess();
        List<NbdHandle> made = new ArrayList<>();
        // A handshake timeout far beyond the test's bound: the pool must not wait for it.
        NbdClientConfig config = NbdClientConfig.builder().handshakeTimeout(Duration.ofSeconds(60)).build();
        try (PeerServer server = PeerServer.qemuNbd(image, "raw", "disk", "-e", "2")) {
            long began = System.nanoTime();
            NbdConnectionPool pool = await(NbdConnectionPool.open(4, connector(server, config, made),
                    Duration.ofSeconds(1)));
            long tookMillis = (System.nanoTime() - began) / 1_000_000;
            try (pool) {
                assertEquals(2, pool.connections().size());
                assertEquals(4, pool.requested());
                assertEquals(2, pool.shortfall().size());
                for (Throwable t : pool.shortfall()) {
                    assertInstanceOf(NbdTimeoutException.class, t);
                    assertTrue(t.getMessage().contains("within 1 s after the last connection that did"),
                            t.getMessage());
                }
                assertTrue(tookMillis < 10_000, "opened in " + tookMillis + " ms");
                // The two left behind were closed at once, not at their handshake timeout.
                for (NbdHandle h : made) {
                    if (pool.connections().stream().noneMatch(c -> c.handle() == h)) {
                        await(h.closeFuture());
                    }
                }
                writeAndReadBack(pool);
                await(pool.disconnect());
            }
            assertAllClosed(made);
        }
        // What went through the two connections is in the image qemu-nbd served.
        byte[] onDisk = java.nio.file.Files.readAllBytes(image);
        assertArrayEquals(TestSupport.pattern(1 << 20, 5), java.util.Arrays.copyOf(onDisk, 1 << 20));
    }

    @Test
    void openExactlyFailsWhenTheServerTakesFewerClients() throws Exception {
        Path image = dir.resolve("disk.raw");
        PeerClients.qemuImg("create", "-q", "-f", "raw", image.toString(), "1M").assertSuccess();
        List<NbdHandle> made = new ArrayList<>();
        NbdClientConfig config = NbdClientConfig.builder().handshakeTimeout(Duration.ofSeconds(1)).build();
        try (PeerServer server = PeerServer.qemuNbd(image, "raw", "disk", "-e", "2")) {
            NbdTimeoutException e = TestSupport.fails(NbdTimeoutException.class,
                    NbdConnectionPool.openExactly(3, connector(server, config, made)));
            assertEquals("the handshake did not finish within 1 s", e.getMessage());
            assertAllClosed(made);
        }
    }

    @Test
    void nbdkitLimitFilterRefusingExtraClientsGivesAPoolOfWhatItAccepted() throws Exception {
        List<NbdHandle> made = new ArrayList<>();
        try (PeerServer server = PeerServer.nbdkit("memory", "size=4M").filter("limit", "limit=2").start()) {
            // nbdkit refuses the extra clients at once; the long extra wait keeps a refusal that a loaded machine
            // delivers late from being counted as a wait that ran out (what the test checks is the refusal).
            NbdConnectionPool pool = await(NbdConnectionPool.open(4, connector(server, NbdClientConfig.defaults(),
                    made), Duration.ofSeconds(10)));
            try (pool) {
                assertEquals(2, pool.connections().size());
                assertEquals(2, pool.shortfall().size());
                for (Throwable t : pool.shortfall()) {
                    assertTrue(t instanceof NbdException && !(t instanceof NbdTimeoutException), t.toString());
                }
                writeAndReadBack(pool);
                await(pool.disconnect());
            }
            assertAllClosed(made);
        }
    }

    @Test
    void noConnectionCompletingFailsWithTheFirstError() throws Exception {
        List<NbdHandle> made = new ArrayList<>();
        Path nowhere = dir.resolve("no.sock");
        NbdConnectionClosedException e = TestSupport.fails(NbdConnectionClosedException.class,
                NbdConnectionPool.open(3, () -> {
                    NbdHandle h = NbdHandle.create();
                    made.add(h);
                    return h.connectUnix(nowhere);
                }));
        assertTrue(e.getMessage().contains(nowhere.toString()), e.getMessage());
        assertAllClosed(made);
    }

    @Test
    void writesSpreadOverConnectionsAreVisibleToAllAfterFlush() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=16M").start()) {
            NbdConnectionPool pool = NbdConnectionPool.open(4, () -> {
                try {
                    return NbdHandle.create().connect(UnixSockets.connect(server.socketPath()));
                } catch (Exception e) {
                    return CompletableFuture.failedFuture(e);
                }
            }).get(20, TimeUnit.SECONDS);
            try (pool) {
                assertEquals(4, pool.connections().size());
                List<CompletableFuture<Void>> writes = new ArrayList<>();
                for (int i = 0; i < 256; i++) {
                    byte[] block = new byte[4096];
                    java.util.Arrays.fill(block, (byte) i);
                    writes.add(pool.write(i * 4096L, Unpooled.wrappedBuffer(block), 0));
                }
                pool.flush().get(20, TimeUnit.SECONDS);
                for (CompletableFuture<Void> w : writes) {
                    assertTrue(w.isDone() && !w.isCompletedExceptionally(), "flush waited for every earlier write");
                }
                long used = pool.connections().stream().filter(c -> c.stats().requestsSent() > 0).count();
                assertTrue(used > 1, "requests were spread over the connections");
                for (NbdConnection c : pool.connections()) {
                    ByteBuf b = c.read(200 * 4096L, 4096, 0).get(20, TimeUnit.SECONDS);
                    try {
                        byte[] expected = new byte[4096];
                        java.util.Arrays.fill(expected, (byte) 200);
                        assertArrayEquals(expected, ByteBufUtil.getBytes(b));
                    } finally {
                        b.release();
                    }
                }
                pool.disconnect().get(20, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void writableExportWithoutMultiConnIsRefused() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").filter("multi-conn", "multi-conn-mode=disable")
                .start()) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> NbdConnectionPool.open(2, () -> {
                try {
                    return NbdHandle.create().connect(UnixSockets.connect(server.socketPath()));
                } catch (Exception ex) {
                    return CompletableFuture.failedFuture(ex);
                }
            }).get(20, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().contains("CAN_MULTI_CONN"), e.getCause().getMessage());
        }
    }
}
