package io.nbdnetty.client;

import io.nbdnetty.client.device.NbdReconnectPolicy;
import io.nbdnetty.client.device.NbdReconnectingDevice;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;

import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.bytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link NbdReconnectingDevice} against nbdkit's file plugin, killed and restarted on the same socket path. */
class NbdReconnectingDeviceTest {
    private static final int SIZE = 8 << 20;

    @TempDir
    Path dir;

    private PeerServer start(Path file, Path socket) {
        return PeerServer.nbdkit("file", "file=" + file).filter("delay", "rdelay=300ms").socketPath(socket)
                .start();
    }

    private static Supplier<CompletableFuture<NbdConnection>> connector(Path socket) {
        return () -> NbdHandle.create(NbdClientConfig.builder().addMetaContext(NbdMetaContext.BASE_ALLOCATION)
                .build()).connect(UnixSockets.connect(socket));
    }

    private static final NbdReconnectPolicy FAST = new NbdReconnectPolicy(100, Duration.ofMillis(20),
            Duration.ofMillis(200), 2.0);

    @Test
    void readsInFlightWhenTheServerDiesAreRetriedOnTheRestartedServer() throws Exception {
        byte[] data = new byte[SIZE];
        new Random(4).nextBytes(data);
        Path file = Files.write(dir.resolve("disk.img"), data);
        Path socket = dir.resolve("s.sock");
        PeerServer first = start(file, socket);
        try (NbdReconnectingDevice dev = await(NbdReconnectingDevice.open(connector(socket), FAST))) {
            assertEquals(SIZE, dev.size());
            List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                reads.add(dev.read(i * 500_000L, 65536, 0));
            }
            Thread.sleep(100);
            assertTrue(reads.stream().noneMatch(CompletableFuture::isDone), "the reads are in flight (rdelay)");
            first.kill();
            Thread.sleep(300);
            assertTrue(reads.stream().noneMatch(CompletableFuture::isDone), "the reads wait for a reconnect");
            try (PeerServer second = start(file, socket)) {
                for (int i = 0; i < 8; i++) {
                    int at = i * 500_000;
                    assertArrayEquals(Arrays.copyOfRange(data, at, at + 65536), bytes(await(reads.get(i))));
                }
                assertEquals(1, dev.reconnects());
                assertTrue(dev.connection().handle().isReady());

                // Writes are retried too; a flush cannot cover writes the dead connection acknowledged.
                byte[] one = new byte[4096];
                Arrays.fill(one, (byte) 0x5a);
                assertNull(await(dev.write(4096, Unpooled.copiedBuffer(one), 0)));
                second.kill();
                try (PeerServer third = start(file, socket)) {
                    ExecutionException e = assertThrows(ExecutionException.class, () -> await(dev.flush()));
                    NbdException ne = assertInstanceOf(NbdException.class, e.getCause());
                    assertTrue(ne.getMessage().contains("1 write(s) had been acknowledged without a flush"),
                            ne.getMessage());
                    assertEquals(2, dev.reconnects());
                    // Told once; after rewriting, a flush works again.
                    assertNull(await(dev.write(4096, Unpooled.copiedBuffer(one), 0)));
                    assertNull(await(dev.flush()));
                    assertArrayEquals(one, bytes(await(dev.read(4096, 4096, 0))));
                    // A flush with nothing unflushed before the loss is simply retried.
                    third.kill();
                    CompletableFuture<Void> flush = dev.flush();
                    try (PeerServer fourth = start(file, socket)) {
                        assertNull(await(flush));
                        assertEquals(3, dev.reconnects());
                    }
                }
            }
        } finally {
            first.close();
        }
    }

    @Test
    void aChangedExportSizeAfterAReconnectFailsEverythingClearly() throws Exception {
        Path file = Files.write(dir.resolve("disk.img"), new byte[SIZE]);
        Path socket = dir.resolve("s.sock");
        PeerServer first = start(file, socket);
        try (NbdReconnectingDevice dev = await(NbdReconnectingDevice.open(connector(socket), FAST))) {
            CompletableFuture<ByteBuf> read = dev.read(0, 4096, 0);
            Thread.sleep(100);
            first.kill();
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file,
                    java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(SIZE / 2);
            }
            try (PeerServer second = start(file, socket)) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> await(read));
                NbdException ne = assertInstanceOf(NbdException.class, e.getCause());
                assertTrue(ne.getMessage().contains("the export changed across a reconnect (size was 8388608 bytes,"
                        + " now 4194304)"), ne.getMessage());
                ExecutionException later = assertThrows(ExecutionException.class,
                        () -> await(dev.read(0, 512, 0)));
                assertEquals(ne, later.getCause(), "every later request fails the same way");
                assertEquals(0, dev.reconnects());
            }
        } finally {
            first.close();
        }
    }

    @Test
    void givesUpWithAClearErrorAfterTheLastAttempt() throws Exception {
        Path file = Files.write(dir.resolve("disk.img"), new byte[SIZE]);
        Path socket = dir.resolve("s.sock");
        PeerServer first = start(file, socket);
        NbdReconnectPolicy three = new NbdReconnectPolicy(3, Duration.ofMillis(10), Duration.ofMillis(40), 2.0);
        assertEquals(Duration.ofMillis(40), three.delayBefore(3));
        try (NbdReconnectingDevice dev = await(NbdReconnectingDevice.open(connector(socket), three))) {
            CompletableFuture<ByteBuf> read = dev.read(0, 4096, 0);
            first.kill();
            ExecutionException e = assertThrows(ExecutionException.class, () -> await(read));
            NbdConnectionClosedException ce = assertInstanceOf(NbdConnectionClosedException.class, e.getCause());
            assertTrue(ce.getMessage().contains("3 reconnection attempt(s) failed"), ce.getMessage());
            assertFalse(Files.exists(socket));
        } finally {
            first.close();
        }
    }
}
