package io.nbdnetty.client;

import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Multi-conn against nbdkit memory (which advertises CAN_MULTI_CONN) and nbdkit --no-mc style refusals. */
class NbdConnectionPoolTest {

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
