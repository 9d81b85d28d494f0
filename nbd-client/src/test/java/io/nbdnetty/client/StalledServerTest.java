package io.nbdnetty.client;

import io.nbdnetty.client.backup.NbdBackup;
import io.nbdnetty.client.device.NbdConnectionPool;
import io.nbdnetty.client.device.NbdReconnectPolicy;
import io.nbdnetty.client.device.NbdReconnectingDevice;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static io.nbdnetty.client.TestSupport.assertDead;
import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.fails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real servers that stop answering with the connection left open: an nbdkit process stopped with SIGSTOP (as a
 * hung server, or one whose host froze, behaves). {@link NbdClientConfig#stallTimeout()} must notice, fail the
 * connection in plain words, and let {@link NbdReconnectingDevice} move on.
 */
class StalledServerTest {
    private static final int SIZE = 1 << 20;

    @TempDir
    Path dir;

    /** Sends a signal; after STOP, waits until the process (every thread of it) has stopped. */
    private static void signal(PeerServer s, String sig) throws Exception {
        Process p = new ProcessBuilder("kill", "-" + sig, Long.toString(s.pid())).inheritIO().start();
        assertEquals(0, p.waitFor());
        if (sig.equals("STOP")) {
            Path tasks = Path.of("/proc", Long.toString(s.pid()), "task");
            for (int i = 0; i < 500 && !allStopped(tasks); i++) {
                Thread.sleep(10);
            }
            assertTrue(allStopped(tasks), "the server did not stop");
        }
    }

    private static boolean allStopped(Path tasks) throws Exception {
        try (var ids = Files.list(tasks)) {
            for (Path t : ids.toList()) {
                String stat = Files.readString(t.resolve("stat"));
                char state = stat.charAt(stat.lastIndexOf(')') + 2);
                if (state != 'T' && state != 't') {
                    return false;
                }
            }
        }
        return true;
    }

    @Test
    void aStoppedNbdkitFailsTheConnectionAfterTheStallTimeout() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("pattern", "size=1M").readOnly().start();
                NbdHandle h = NbdHandle.create(NbdClientConfig.builder().stallTimeout(Duration.ofSeconds(1)).build())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(s.socketPath())));
            TestSupport.bytes(await(c.read(0, 4096))); // it answers while it runs
            signal(s, "STOP");
            try {
                long t0 = System.nanoTime();
                NbdTimeoutException e = fails(NbdTimeoutException.class, c.read(4096, 4096));
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertEquals("no reply from the server for 1 s (1 request(s) waiting)", e.getMessage());
                assertTrue(ms >= 900 && ms < 10_000, "took " + ms + " ms");
                assertDead(h);
            } finally {
                signal(s, "CONT");
            }
        }
    }

    @Test
    void anIdleConnectionToAStoppedServerIsNotFailed() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("pattern", "size=1M").readOnly().start();
                NbdHandle h = NbdHandle.create(NbdClientConfig.builder()
                        .stallTimeout(Duration.ofMillis(500)).build())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(s.socketPath())));
            signal(s, "STOP");
            Thread.sleep(1500); // nothing asked: silence is fine
            assertEquals(NbdState.READY, h.state());
            signal(s, "CONT");
            TestSupport.bytes(await(c.read(0, 4096)));
            assertEquals(NbdState.READY, h.state());
        }
    }

    @Test
    void theReconnectingDeviceMovesOnFromAStoppedServer() throws Exception {
        byte[] data = new byte[SIZE];
        new Random(23).nextBytes(data);
        Path file = Files.write(dir.resolve("disk.img"), data);
        try (PeerServer first = PeerServer.nbdkit("file", "file=" + file).readOnly().start();
                PeerServer second = PeerServer.nbdkit("file", "file=" + file).readOnly().start()) {
            AtomicInteger dials = new AtomicInteger();
            Supplier<CompletableFuture<NbdConnection>> connector = () -> {
                PeerServer to = dials.getAndIncrement() == 0 ? first : second;
                return NbdHandle.create(NbdClientConfig.builder().stallTimeout(Duration.ofSeconds(1)).build())
                        .connect(UnixSockets.connect(to.socketPath()));
            };
            NbdReconnectPolicy policy = new NbdReconnectPolicy(5, Duration.ofMillis(20), Duration.ofMillis(200), 2.0);
            try (NbdReconnectingDevice dev = await(NbdReconnectingDevice.open(connector, policy))) {
                signal(first, "STOP");
                try {
                    ByteBuf b = await(dev.read(65536, 4096, 0));
                    assertArrayEquals(Arrays.copyOfRange(data, 65536, 65536 + 4096), TestSupport.bytes(b));
                    assertEquals(2, dials.get());
                } finally {
                    signal(first, "CONT");
                }
            }
        }
    }

    private static Supplier<CompletableFuture<NbdConnection>> stalling(PeerServer s, Duration stall) {
        return () -> NbdHandle.create(NbdClientConfig.builder().addMetaContext(NbdMetaContext.BASE_ALLOCATION)
                .stallTimeout(stall).build()).connect(UnixSockets.connect(s.socketPath()));
    }

    @Test
    void aPoolOverAStoppedServerFailsItsRequests() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("pattern", "size=1M").readOnly().start();
                NbdConnectionPool pool = await(NbdConnectionPool.open(2, stalling(s, Duration.ofSeconds(1))))) {
            TestSupport.bytes(await(pool.read(0, 4096, 0)));
            signal(s, "STOP");
            try {
                NbdTimeoutException e = fails(NbdTimeoutException.class, pool.read(8192, 4096, 0));
                assertTrue(e.getMessage().startsWith("no reply from the server for 1 s"), e.getMessage());
            } finally {
                signal(s, "CONT");
            }
        }
    }

    @Test
    void aBackupFromAStoppedServerFails() throws Exception {
        byte[] data = new byte[SIZE];
        new Random(5).nextBytes(data);
        Path file = Files.write(dir.resolve("src.img"), data);
        try (PeerServer s = PeerServer.nbdkit("file", "file=" + file).readOnly().filter("delay", "rdelay=200ms")
                .start()) {
            NbdConnection c = await(stalling(s, Duration.ofSeconds(1)).get());
            try {
                CompletableFuture<NbdBackup.Result> run = NbdBackup.builder(c).build()
                        .toFile(dir.resolve("backup.img"));
                signal(s, "STOP");
                try {
                    NbdTimeoutException e = fails(NbdTimeoutException.class, run);
                    assertTrue(e.getMessage().startsWith("no reply from the server for 1 s"), e.getMessage());
                } finally {
                    signal(s, "CONT");
                }
            } finally {
                c.handle().close();
            }
        }
    }
}
