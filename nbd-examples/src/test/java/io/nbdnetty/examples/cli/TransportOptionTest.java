package io.nbdnetty.examples.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nbdnetty.client.NbdEventLoops;
import io.nbdnetty.client.NbdEventLoops.Transport;
import io.nbdnetty.examples.server.MemoryExport;
import io.nbdnetty.examples.server.NbdServer;
import io.nbdnetty.testing.peers.Interop;
import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import static io.nbdnetty.examples.cli.CliRun.nbd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code --transport} of {@code nbd bench}, {@code nbd copy} and {@code nbd info}. */
class TransportOptionTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static void require(Transport t) {
        t.unavailabilityCause().ifPresent(c -> Interop.missing("Netty's " + t + " transport is not available here ("
                + c + ")"));
    }

    @Test
    void benchReportsTheTransportItUsed() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=16M").start()) {
            for (Transport t : Transport.values()) {
                if (!t.isAvailable()) {
                    continue;
                }
                String name = t.name().toLowerCase(Locale.ROOT);
                JsonNode r = JSON.readTree(nbd("bench", "--json", "--transport=" + name, "--rw", "randread",
                        "--runtime", "0.3", "--iodepth", "8", s.uri()).ok().out());
                assertEquals(name, r.get("transport").asText(), r.toString());
                assertTrue(r.get("read").get("ops").asLong() > 0, r.toString());
            }
            CliRun.Run def = nbd("bench", "--runtime", "0.2", s.uri()).ok();
            String expected = NbdEventLoops.defaultTransport().name().toLowerCase(Locale.ROOT);
            assertTrue(def.out().contains(" transport=" + expected + " "), def.out());
            assertEquals("", def.err());
        }
    }

    @Test
    void ioUringCopyIsWhatNbdcopyCopiesAndInfoWorksOverTcp() throws Exception {
        require(Transport.IO_URING);
        try (PeerServer s = PeerServer.nbdkit("sparse-random", "size=32M", "seed=5").start()) {
            Path theirs = dir.resolve("theirs.img");
            PeerClients.nbdcopy(s.uri(), theirs.toString()).assertSuccess();
            Path ours = dir.resolve("ours.img");
            CliRun.Run run = nbd("copy", "--transport=io_uring", "--connections", "2", s.uri(), ours.toString()).ok();
            assertEquals("", run.err());
            assertEquals(-1, Files.mismatch(theirs, ours));
        }
        try (NbdServer server = NbdServer.builder().export("disk", new MemoryExport(8L << 20)).build()) {
            int port = ((InetSocketAddress) server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)))
                    .getPort();
            String uri = "nbd://" + InetAddress.getLoopbackAddress().getHostAddress() + ":" + port + "/disk";
            assertEquals(String.valueOf(8L << 20), nbd("info", "--transport", "io_uring", "--size", uri).ok().out()
                    .strip());
            JsonNode w = JSON.readTree(nbd("bench", "--json", "--transport=io_uring", "--rw", "randwrite",
                    "--bs", "16K", "--size", "2M", uri).ok().out());
            assertEquals("io_uring", w.get("transport").asText());
            assertEquals(2L << 20, w.get("write").get("bytes").asLong());
        }
    }

    @Test
    void anUnknownTransportIsAUsageError() {
        CliRun.Run r = nbd("bench", "--transport=dpdk", "nbd://localhost");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("nbd bench: Invalid value for option '--transport': 'dpdk' is not a "
                + "transport: epoll, io_uring or nio"), r.err());
        CliRun.Run c = nbd("copy", "--transport", "uring", "nbd://localhost", "null:");
        assertEquals(1, c.code());
        assertTrue(c.err().contains("'uring' is not a transport"), c.err());
    }
}
