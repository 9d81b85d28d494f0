package io.nbdnetty.examples.metrics;

import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdCommandException;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link MicrometerNbdListener} with a SimpleMeterRegistry, against nbdkit. */
class MicrometerNbdListenerTest {
    private static <V> V await(CompletableFuture<V> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    @Test
    void recordsATimerPerCommandBytesErrorsAndClosedConnections() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        MicrometerNbdListener listener = new MicrometerNbdListener(registry, Tags.of("export", "test"));
        NbdClientConfig config = NbdClientConfig.builder().listener(listener).strictMode(0).build();
        try (PeerServer server = PeerServer.nbdkit("memory", "size=16M").start();
             NbdHandle h = NbdHandle.create(config)) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            for (int i = 0; i < 10; i++) {
                await(c.write(i * 8192L, Unpooled.wrappedBuffer(new byte[8192])));
            }
            for (int i = 0; i < 5; i++) {
                await(c.read(i * 4096L, 4096)).release();
            }
            await(c.flush());
            await(c.disconnect());
        }
        try (PeerServer server = PeerServer.nbdkit("pattern", "size=1M").readOnly().start();
             NbdHandle h = NbdHandle.create(config)) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> await(c.write(0, Unpooled.wrappedBuffer(new byte[512]))));
            assertInstanceOf(NbdCommandException.class, e.getCause());
        }

        Timer writes = registry.get(MicrometerNbdListener.REQUESTS).tags("export", "test", "command",
                "NBD_CMD_WRITE", "outcome", "success").timer();
        assertEquals(10, writes.count());
        assertTrue(writes.totalTime(TimeUnit.NANOSECONDS) > 0);
        assertEquals(5, registry.get(MicrometerNbdListener.REQUESTS).tags("command", "NBD_CMD_READ").timer().count());
        assertEquals(1, registry.get(MicrometerNbdListener.REQUESTS).tags("command", "NBD_CMD_FLUSH").timer()
                .count());
        assertEquals(81920, registry.get(MicrometerNbdListener.BYTES).tags("direction", "write").counter().count());
        assertEquals(20480, registry.get(MicrometerNbdListener.BYTES).tags("direction", "read").counter().count());
        assertEquals(1, registry.get(MicrometerNbdListener.ERRORS).tags("command", "NBD_CMD_WRITE", "exception",
                "NbdCommandException").counter().count());
        assertEquals(1, registry.get(MicrometerNbdListener.REQUESTS).tags("command", "NBD_CMD_WRITE", "outcome",
                "error").timer().count());
        assertTrue(registry.get(MicrometerNbdListener.CONNECTIONS_CLOSED).counter().count() >= 1);
    }
}
