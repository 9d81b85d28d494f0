package io.nbdnetty.examples.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nbdnetty.examples.server.MemoryExport;
import io.nbdnetty.examples.server.NbdServer;
import io.nbdnetty.testing.peers.PeerServer;
import io.netty.channel.unix.DomainSocketAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static io.nbdnetty.examples.cli.CliRun.nbd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code nbd bench}: short runs, JSON sanity (no timing assertions), refusals. */
class BenchCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static JsonNode bench(String... args) throws Exception {
        String[] all = new String[args.length + 2];
        all[0] = "bench";
        all[1] = "--json";
        System.arraycopy(args, 0, all, 2, args.length);
        return JSON.readTree(nbd(all).ok().out());
    }

    private static void sane(JsonNode result, String op, int bs) {
        JsonNode o = result.get(op);
        assertTrue(o != null, op + " missing in " + result);
        long ops = o.get("ops").asLong();
        assertTrue(ops > 0, result.toString());
        assertEquals(ops * bs, o.get("bytes").asLong(), result.toString());
        JsonNode lat = o.get("latency_us");
        for (String k : new String[] {"min", "p50", "p90", "p99", "p99.9", "max"}) {
            assertTrue(lat.get(k).asLong() > 0, k + " in " + result);
        }
        assertTrue(lat.get("p50").asLong() <= lat.get("p99").asLong());
        assertTrue(lat.get("p99").asLong() <= lat.get("max").asLong());
        assertTrue(o.get("iops").asDouble() > 0);
    }

    @Test
    void nbdkitMemory() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=16M").start()) {
            JsonNode r = bench("--rw", "randread", "--runtime", "0.5", s.uri());
            sane(r, "read", 4096);
            assertFalse(r.has("write"));
            assertTrue(r.get("cpu_percent").asDouble() > 0, "the process's CPU use while measuring: " + r);
            JsonNode w = bench("--rw", "write", "--bs", "64K", "--size", "8M", "--iodepth", "4", s.uri());
            sane(w, "write", 65536);
            assertEquals(8L << 20, w.get("write").get("bytes").asLong(), "--size is the bytes transferred");
            JsonNode mix = bench("--rw", "randrw", "--rwmixread", "70", "--connections", "2", "--runtime", "0.5",
                    s.uri());
            sane(mix, "read", 4096);
            sane(mix, "write", 4096);
            CliRun.Run text = nbd("bench", "--rw", "read", "--runtime", "0.3", s.uri()).ok();
            assertTrue(text.out().contains("IOPS=") && text.out().contains("p99.9="), text.out());
        }
    }

    @Test
    void manyConnectionsCountEveryRequestOnce() throws Exception {
        // The counters and histograms are kept per thread (event loops and the main thread), not per connection, and
        // merged at the end: with --size every request is counted exactly once, whichever thread completed it.
        try (PeerServer s = PeerServer.nbdkit("memory", "size=16M").start()) {
            JsonNode r = bench("--rw", "randrw", "--connections", "24", "--threads", "3", "--iodepth", "2",
                    "--size", "4M", s.uri());
            sane(r, "read", 4096);
            sane(r, "write", 4096);
            assertEquals(24, r.get("connections").asInt(), r.toString());
            assertEquals(3, r.get("threads").asInt(), r.toString());
            assertEquals(4L << 20, r.get("read").get("bytes").asLong() + r.get("write").get("bytes").asLong(),
                    "every request counted once: " + r);
        }
    }

    @Test
    void neverMoreLoopsThanConnections() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=16M").start()) {
            CliRun.Run run = nbd("bench", "--json", "--connections", "2", "--threads", "8", "--size", "1M",
                    s.uri()).ok();
            JsonNode r = JSON.readTree(run.out());
            assertEquals(2, r.get("threads").asInt(), "8 loops asked for 2 connections: " + r);
            assertTrue(run.err().contains("--threads 8 with 2 connections: using 2 event loops, one per connection"),
                    run.err());
            CliRun.Run fits = nbd("bench", "--json", "--connections", "2", "--threads", "2", "--size", "1M", s.uri())
                    .ok();
            assertEquals(2, JSON.readTree(fits.out()).get("threads").asInt());
            assertEquals("", fits.err(), "no note when the loops fit");
        }
    }

    @Test
    void rampTimeIsNotCounted() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=16M").start()) {
            JsonNode r = bench("--rw", "randread", "--ramp-time", "1", "--runtime", "0.3", s.uri());
            sane(r, "read", 4096);
            // Counted from the end of the ramp: a run that counted the ramp would report 1.3 s or more.
            double counted = r.get("runtime_s").asDouble();
            assertTrue(counted > 0 && counted < 1.0, r.toString());
            JsonNode sized = bench("--rw", "write", "--bs", "64K", "--ramp-time", "0.2", "--size", "4M", s.uri());
            assertEquals(4L << 20, sized.get("write").get("bytes").asLong(), "--size counts after the ramp");
        }
    }

    @Test
    void busyPolling() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=16M").start()) {
            JsonNode r = bench("--rw", "randrw", "--iodepth", "1", "--busy-poll", "30", "--runtime", "0.3", s.uri());
            sane(r, "read", 4096);
            sane(r, "write", 4096);
            assertEquals(30, r.get("busy_poll_us").asInt(), r.toString());
            JsonNode nio = bench("--transport", "nio", "--busy-poll", "30", "--runtime", "0.3", s.uri());
            sane(nio, "read", 4096);
            assertEquals(TransportOption.LIBRARY_DEFAULT_MICROS,
                    bench("--runtime", "0.2", s.uri()).get("busy_poll_us").asLong(), "the library's window by default");
            assertEquals(io.nbdnetty.client.NbdEventLoops.DEFAULT_BUSY_POLL.toNanos() / 1000,
                    TransportOption.LIBRARY_DEFAULT_MICROS, "the help's constant is the library's window");
            JsonNode off = bench("--busy-poll", "0", "--runtime", "0.2", s.uri());
            sane(off, "read", 4096);
            assertEquals(0, off.get("busy_poll_us").asInt(), "--busy-poll 0 turns it off");
        }
    }

    @Test
    void exampleServer() throws Exception {
        Path socket = dir.resolve("ex.sock");
        try (NbdServer server = NbdServer.builder().export("disk", new MemoryExport(8L << 20)).build()) {
            server.bind(new DomainSocketAddress(socket.toString()));
            String uri = "nbd+unix:///disk?socket=" + socket;
            sane(bench("--rw", "randwrite", "--bs", "16K", "--size", "4M", "--iodepth", "8", uri), "write", 16384);
            sane(bench("--rw", "read", "--bs", "1M", "--size", "16M", uri), "read", 1 << 20);
        }
    }

    @Test
    void writesAreRefusedOnAReadOnlyExport() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=1M").readOnly().start()) {
            for (String rw : new String[] {"write", "randwrite", "randrw"}) {
                CliRun.Run r = nbd("bench", "--rw", rw, "--runtime", "0.2", s.uri());
                assertEquals(1, r.code(), r.toString());
                assertEquals("nbd bench: the export is read-only: --rw " + rw + " needs a writable export\n",
                        r.err());
            }
            sane(bench("--rw", "randread", "--size", "64K", s.uri()), "read", 4096);
        }
    }

    @Test
    void badOptions() {
        for (String[] args : new String[][] {{"bench", "--rw", "sideways", "nbd://x"},
                {"bench", "--bs", "0", "nbd://x"}, {"bench", "--rwmixread", "101", "nbd://x"},
                {"bench", "--ramp-time", "-1", "nbd://x"}, {"bench", "--ramp-time", "NaN", "nbd://x"},
                {"bench", "--busy-poll", "-5", "nbd://x"}, {"bench", "--busy-poll", "30", "--transport", "io_uring",
                        "nbd://x"},
                {"bench", "--threads", "0", "nbd://x"}, {"bench", "nbd+unix:///"}}) {
            CliRun.Run r = nbd(args);
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.err().startsWith("nbd bench: "), r.err());
            assertFalse(r.err().contains("\tat "), r.err());
        }
        assertTrue(nbd("bench", "--help").ok().out().contains("--iodepth"));
    }
}
