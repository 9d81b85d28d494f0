package io.nbdnetty.examples.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nbdnetty.testing.peers.PeerClients;
import io.netty.channel.unix.DomainSocketAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The example server (what {@code nbd serve} runs) with qemu 10's qemu-io and qemu-img as the clients: the one
 * independent client here that negotiates extended headers. Each connection's use of extended headers is proven on
 * the server's side ({@link NbdServer#extendedHeaderSessions()}), not assumed. qemu 10 sends NBD_CMD_WRITE without
 * NBD_CMD_FLAG_PAYLOAD_LEN; the server must take the data all the same.
 */
class Qemu10ClientInteropTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MIB = 1 << 20;
    private static final long GIB = 1L << 30;

    @TempDir
    Path dir;

    private NbdServer server;
    private String uri;

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.close();
        }
    }

    private void start(NbdExport export) throws Exception {
        server = NbdServer.builder().export("", export).build();
        Path socket = dir.resolve("s.sock");
        server.bind(new DomainSocketAddress(socket.toString()));
        uri = "nbd+unix:///?socket=" + socket;
    }

    /** Runs a qemu 10 tool, which must succeed, and checks that its connection used extended headers. */
    private PeerClients.Result qemu10(String tool, String... args) {
        long before = server.extendedHeaderSessions();
        PeerClients.Result r = PeerClients.qemu10(tool, args).assertSuccess();
        assertTrue(server.extendedHeaderSessions() > before, "extended headers negotiated by " + tool + ": " + r);
        return r;
    }

    @Test
    void qemuIoWritesZeroesDiscardsAndReadsBack() throws Exception {
        start(new MemoryExport(64 * MIB));
        PeerClients.Result r = qemu10("qemu-io", "-f", "raw",
                "-c", "write -P 0x5a 0 1M",        // NBD_CMD_WRITE, no PAYLOAD_LEN from qemu 10
                "-c", "write -P 0x33 1M 1M",
                "-c", "write -z 1M 512k",          // NBD_CMD_WRITE_ZEROES
                "-c", "write -P 0x77 4M 128k",
                "-c", "discard 4M 64k",            // NBD_CMD_TRIM
                "-c", "flush",
                "-c", "read -P 0x5a 0 1M",
                "-c", "read -P 0 1M 512k",
                "-c", "read -P 0x33 1536k 512k",
                "-c", "read -P 0 4M 64k",          // the memory export reads a trimmed chunk as zeros
                "-c", "read -P 0x77 4160k 64k",
                uri);
        String out = r.stdout() + r.stderr();
        assertFalse(out.contains("failed") || out.contains("error"), r.toString());
        assertEquals(4, r.stdout().lines().filter(l -> l.startsWith("wrote ")).count(), r.toString());
        assertEquals(1, r.stdout().lines().filter(l -> l.startsWith("discard ")).count(), r.toString());
        assertEquals(5, r.stdout().lines().filter(l -> l.startsWith("read ")).count(), r.toString());
    }

    @Test
    void qemuImgMapSeesExtentsBeyondFourGib() throws Exception {
        start(new MemoryExport(6 * GIB));
        long high = 5 * GIB;
        qemu10("qemu-io", "-f", "raw", "-c", "write -P 0xab 1M 1M", "-c", "write -P 0xcd " + high + " 2M", uri);
        PeerClients.Result map = qemu10("qemu-img", "map", "--output=json", "-f", "raw", uri);
        JsonNode entries = JSON.readTree(map.stdout());
        List<long[]> data = new ArrayList<>();
        long end = 0;
        for (JsonNode e : entries) {
            long start = e.get("start").asLong();
            long length = e.get("length").asLong();
            assertEquals(end, start, "contiguous map: " + map.stdout());
            end = start + length;
            if (e.get("data").asBoolean()) {
                data.add(new long[] {start, length});
            } else {
                assertTrue(e.get("zero").asBoolean(), "a hole reads as zeros: " + e);
            }
        }
        assertEquals(6 * GIB, end, map.stdout());
        assertEquals(2, data.size(), map.stdout());
        assertArrayEquals(new long[] {MIB, MIB}, data.get(0), map.stdout());
        assertArrayEquals(new long[] {high, 2 * MIB}, data.get(1), map.stdout());
    }

    @Test
    void qemuImgConvertsInAndOut() throws Exception {
        // A raw image with data, a run of zeros and a hole, converted into the export and back out.
        long size = 16 * MIB;
        Path img = dir.resolve("in.img");
        byte[] chunk = new byte[(int) MIB];
        new Random(17).nextBytes(chunk);
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(size);
            f.write(chunk);
            f.seek(3 * MIB);
            f.write(new byte[(int) MIB]);
            f.seek(9 * MIB);
            f.write(chunk, 0, 300_000);
        }
        start(new MemoryExport(size));
        qemu10("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", img.toString(), uri);
        qemu10("qemu-img", "compare", "-f", "raw", "-F", "raw", img.toString(), uri);

        Path out = dir.resolve("out.img");
        qemu10("qemu-img", "convert", "-f", "raw", "-O", "raw", uri, out.toString());
        assertEquals(size, Files.size(out));
        PeerClients.Result same = PeerClients.qemu10("qemu-img", "compare", "-f", "raw", "-F", "raw",
                img.toString(), out.toString());
        assertEquals(0, same.exitCode(), same.toString());

        // A change made through the server shows: compare tells the difference (exit 1), so the check can fail.
        qemu10("qemu-io", "-f", "raw", "-c", "write -P 0x01 12M 4k", uri);
        PeerClients.Result differ = PeerClients.qemu10("qemu-img", "compare", "-f", "raw", "-F", "raw",
                img.toString(), uri);
        assertEquals(1, differ.exitCode(), differ.toString());
        assertTrue(differ.stdout().contains("Content mismatch at offset 12582912"), differ.toString());
    }
}
