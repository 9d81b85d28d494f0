package io.nbdnetty.testing.peers;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The harness itself: each kind of peer starts, answers nbdinfo, and leaves nothing behind when closed. Skipped
 * (auto) or failed (required) when a peer is not installed, like any interop test.
 */
class PeerServerTest {
    private static final long SIZE_64M = 64L << 20;

    @TempDir
    Path tmp;

    @Test
    void nbdkitMemoryReportsItsSize() {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=64M").start()) {
            PeerClients.Result info = PeerClients.nbdinfoJson(s.uri()).assertSuccess();
            assertEquals(SIZE_64M, info.jsonNumber("export-size"));
            assertTrue(info.stdout().contains("\"structured\": true"), info.stdout());
            assertTrue(s.uri().startsWith("nbd+unix:///?socket=/"), s.uri());
            assertEquals("", s.exportName());
        }
    }

    @Test
    void nbdkitOptionsReachTheServer() {
        try (PeerServer s = PeerServer.nbdkit("pattern", "size=1M").readOnly().noStructuredReplies().start()) {
            String json = PeerClients.nbdinfoJson(s.uri()).assertSuccess().stdout();
            assertTrue(json.contains("\"is_read_only\": true"), json);
            assertTrue(json.contains("\"structured\": false"), json);
        }
        try (PeerServer s = PeerServer.nbdkit("null", "size=4096").oldstyle().start()) {
            String json = PeerClients.nbdinfoJson(s.uri()).assertSuccess().stdout();
            assertTrue(json.contains("\"protocol\": \"oldstyle\""), json);
        }
    }

    @Test
    void nbdkitFiltersAndNamedExports() {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=1M")
                .filter("exportname", "exportname=a", "exportname=b", "exportname-list=explicit")
                .filter("delay", "rdelay=1ms")
                .exportName("b")
                .start()) {
            assertEquals("b", s.exportName());
            assertTrue(s.uri().startsWith("nbd+unix:///b?socket="), s.uri());
            String list = PeerClients.nbdinfo("--list", "--json", s.uri()).assertSuccess().stdout();
            assertTrue(list.contains("\"export-name\": \"a\"") && list.contains("\"export-name\": \"b\""), list);
        }
    }

    @Test
    void nbdkitStdioServesEachConnectionTwiceInARow() throws IOException {
        try (PeerServer s = PeerServer.nbdkitStdio("memory", "size=64M").start()) {
            for (int i = 0; i < 2; i++) {
                assertEquals(SIZE_64M, PeerClients.nbdinfoJson(s.uri()).assertSuccess().jsonNumber("export-size"));
            }
            // A raw connected socket gets nbdkit's greeting, from an nbdkit -s whose stdin is that very socket.
            try (SocketChannel ch = UnixSockets.connect(s.socketPath())) {
                assertEquals("NBDMAGIC", readAscii(ch, 8));
                List<ProcessHandle> servers = ProcessHandle.of(s.pid()).orElseThrow().descendants()
                        .filter(h -> h.info().command().orElse("").endsWith("/nbdkit"))
                        .collect(Collectors.toList());
                assertEquals(1, servers.size(), "nbdkit -s processes under socat");
                // nbdkit -s moves the socket off fds 0/1 (and puts /dev/null there), so look at all its fds.
                List<String> fds = new ArrayList<>();
                try (Stream<Path> list = Files.list(Path.of("/proc", Long.toString(servers.get(0).pid()), "fd"))) {
                    for (Path fd : list.collect(Collectors.toList())) {
                        fds.add(Files.readSymbolicLink(fd).toString());
                    }
                }
                assertTrue(fds.stream().anyMatch(f -> f.startsWith("socket:")), fds.toString());
            }
        }
    }

    @Test
    void closingStdioServerEndsItsConnectedChildren() throws Exception {
        PeerServer s = PeerServer.nbdkitStdio("memory", "size=1M").start();
        try (SocketChannel ch = UnixSockets.connect(s.socketPath())) {
            assertEquals("NBDMAGIC", readAscii(ch, 8));
            List<ProcessHandle> children = ProcessHandle.of(s.pid()).orElseThrow().descendants()
                    .collect(Collectors.toList());
            assertFalse(children.isEmpty());
            s.close();
            for (ProcessHandle child : children) {
                assertTrue(Processes.isGone(child), "child " + child.pid() + " still running");
            }
        }
    }

    @Test
    void qemuNbdServesAQcow2WithADirtyBitmap() {
        Path image = PeerServer.createQcow2WithDirtyBitmap(tmp.resolve("d.qcow2"), SIZE_64M, "b0");
        long pid;
        try (PeerServer s = PeerServer.qemuNbd(image, "qcow2", "disk", "-B", "b0", "-A")) {
            pid = s.pid();
            PeerClients.Result info = PeerClients.nbdinfoJson(s.uri()).assertSuccess();
            assertEquals(SIZE_64M, info.jsonNumber("export-size"));
            assertTrue(info.stdout().contains("\"qemu:dirty-bitmap:b0\""), info.stdout());
            assertTrue(info.stdout().contains("\"qemu:allocation-depth\""), info.stdout());
            String map = PeerClients.nbdinfo("--map=qemu:dirty-bitmap:b0", s.uri()).assertSuccess().stdout();
            assertTrue(map.matches("(?s).*\\s1048576\\s+65536\\s+1\\s+dirty.*"), map);
            // The second connection proves --persistent: qemu-nbd would otherwise exit after the first client.
            PeerClients.qemuIo("-f", "raw", "-r", "-c", "read -P 0xab 1M 64k", s.uri()).assertSuccess();
        }
        assertGone(pid);
    }

    @Test
    void nbdServerServesAFile() throws IOException {
        Path file = tmp.resolve("ns.img");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(16L << 20);
        }
        long pid;
        try (PeerServer s = PeerServer.nbdServer(file, "disk")) {
            pid = s.pid();
            // nbdinfo --json would show 0: nbd-server 3.24 reports size 0 to NBD_OPT_INFO (see nbdServer's doc).
            assertEquals(Long.toString(16L << 20),
                    PeerClients.nbdinfo("--size", s.uri()).assertSuccess().stdout().trim());
            String list = PeerClients.nbdinfo("--list", "--json", s.uri()).assertSuccess().stdout();
            assertTrue(list.contains("\"export-name\": \"disk\""), list);
        }
        assertGone(pid);
    }

    @Test
    void twentyServersInARowLeaveNothingBehind() {
        for (int i = 0; i < 20; i++) {
            PeerServer s = PeerServer.nbdkit("null", "size=1M").start();
            long pid = s.pid();
            Path dir = s.directory();
            assertTrue(Files.exists(s.socketPath()));
            s.close();
            assertGone(pid);
            assertFalse(Files.exists(dir), dir + " left behind");
            s.close(); // idempotent
        }
    }

    @Test
    void startupFailureQuotesTheServersStderr() {
        Interop.requireNbdkitPlugin("memory"); // outside assertThrows, so that a missing nbdkit skips
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> PeerServer.nbdkit("memory", "size=banana").start());
        assertTrue(e.getMessage().contains("exited with code") && e.getMessage().contains("banana"),
                e.getMessage());
    }

    @Test
    void killCrashesTheServerUnderItsClient() throws Exception {
        PeerServer s = PeerServer.nbdkit("memory", "size=1M").start();
        long pid = s.pid();
        try (SocketChannel ch = UnixSockets.connect(s.socketPath())) {
            assertEquals("NBDMAGIC", readAscii(ch, 8));
            s.kill();
            assertGone(pid);
            ByteBuffer rest = ByteBuffer.allocate(64);
            while (ch.read(rest) >= 0) { // the rest of the greeting, then EOF
                rest.clear();
            }
        }
        s.close(); // a no-op after kill
    }

    private static void assertGone(long pid) {
        ProcessHandle.of(pid).ifPresent(h -> assertTrue(Processes.isGone(h), "pid " + pid + " still running"));
    }

    private static String readAscii(SocketChannel ch, int n) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(n);
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                throw new IOException("EOF after " + buf.position() + " bytes");
            }
        }
        return new String(buf.array(), StandardCharsets.US_ASCII);
    }
}
