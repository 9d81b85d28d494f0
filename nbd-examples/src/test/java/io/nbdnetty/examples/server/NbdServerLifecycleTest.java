package io.nbdnetty.examples.server;

import io.netty.channel.unix.DomainSocketAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Binding, closing, and the builder's checks. */
class NbdServerLifecycleTest {
    @TempDir
    Path dir;

    private static List<String> serverThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("nbd-server")).toList();
    }

    @Test
    void bindsTcpAndUnixAndLeavesNothingBehindOnClose() throws Exception {
        Path file = dir.resolve("f.img");
        Files.write(file, new byte[4096]);
        NbdServer server = NbdServer.builder().export("mem", new MemoryExport(1 << 20))
                .export("file", new FileExport(file, true)).build();
        SocketAddress tcp = server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        int port = ((InetSocketAddress) tcp).getPort();
        assertTrue(port > 0);
        Path unix = dir.resolve("a.sock");
        server.bind(UnixDomainSocketAddress.of(unix));
        assertTrue(Files.exists(unix));
        assertEquals(2, server.boundAddresses().size());
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            byte[] greeting = s.getInputStream().readNBytes(18);
            assertEquals("NBDMAGIC", new String(greeting, 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (server.connectionCount() != 1 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(1, server.connectionCount());
            server.close();
            assertEquals(-1, s.getInputStream().read(), "close() closes connections");
        }
        server.close(); // idempotent
        assertFalse(Files.exists(unix), "the socket file is removed");
        assertEquals(List.of(), serverThreads());
        assertThrows(IllegalStateException.class, () -> server.bind(new InetSocketAddress(0)));
    }

    @Test
    void bindFailureIsAnIOException() throws Exception {
        try (NbdServer server = NbdServer.builder().export("", new MemoryExport(4096)).build()) {
            Path taken = dir.resolve("taken.sock");
            server.bind(new DomainSocketAddress(taken.toString()));
            IOException e = assertThrows(IOException.class,
                    () -> server.bind(new DomainSocketAddress(taken.toString())));
            assertTrue(e.getMessage().contains("taken.sock"), e.getMessage());
        }
    }

    @Test
    void builderChecksItsSettings() {
        assertThrows(IllegalStateException.class, () -> NbdServer.builder().build());
        NbdServer.Builder b = NbdServer.builder().export("x", new MemoryExport(4096));
        assertThrows(IllegalArgumentException.class, () -> b.export("x", new MemoryExport(4096)));
        assertThrows(IllegalArgumentException.class, () -> b.blockSizes(3, 4096, 1 << 20));
        assertThrows(IllegalArgumentException.class, () -> b.blockSizes(512, 256, 1 << 20));
        assertThrows(IllegalArgumentException.class, () -> b.blockSizes(512, 4096, 2048));
        assertThrows(IllegalArgumentException.class, () -> b.blockSizes(512, 4096, 1 << 30));
        assertThrows(IllegalArgumentException.class, () -> b.export("y".repeat(5000), new MemoryExport(1)));
        b.blockSizes(1, 512, 4096).threads(1);
        try (NbdServer s = b.build()) {
            assertEquals(List.of("x"), List.copyOf(s.exports().keySet()));
        }
    }
}
