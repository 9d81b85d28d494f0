package io.nbdnetty.examples.cli.info;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nbdnetty.examples.cli.CliRun;
import io.nbdnetty.examples.server.MemoryExport;
import io.nbdnetty.examples.server.NbdServer;
import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import io.netty.channel.unix.DomainSocketAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.TreeSet;

import static io.nbdnetty.examples.cli.CliRun.nbd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code nbd info} against nbdinfo 1.14 on the same servers: the JSON parsed and compared key by key and value by
 * value, the text, --list, --map (and --totals), --size and --can/--is exit codes compared as they are.
 */
class InfoCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    // ------------------------------------------------------------------------------------------- no server

    @Test
    void formatsNumbersAsNbdinfoDoes() {
        assertEquals("6.25", NbdinfoFormat.cG(6.25));
        assertEquals("90.625", NbdinfoFormat.cG(90.625));
        assertEquals("33.3333", NbdinfoFormat.cG(100 / 3.0));
        assertEquals("100", NbdinfoFormat.cG(100.0));
        assertEquals("6.2", NbdinfoFormat.cFixed1(6.25), "C rounds the exact binary value half to even");
        assertEquals("3.1", NbdinfoFormat.cFixed1(3.125));
        assertEquals("90.6", NbdinfoFormat.cFixed1(90.625));
        assertEquals("64M", NbdinfoFormat.humanSize(64L << 20));
        assertEquals("0", NbdinfoFormat.humanSize(0));
        assertEquals("1536", NbdinfoFormat.humanSize(1536));
        assertEquals("3K", NbdinfoFormat.humanSize(3072));
        assertEquals("a%20b/c:d", UriText.escapePath("a b/c:d"));
        assertEquals("\"a\\\"b\\u0001\"", NbdinfoFormat.jsonString("a\"b\u0001"));
    }

    @Test
    void mapTakesAContextOnlyAfterAnEqualsSign() {
        InfoCommand a = new InfoCommand();
        new CommandLine(a).parseArgs("--map", "nbd://x");
        assertEquals("base:allocation", a.map);
        assertEquals(java.util.List.of("nbd://x"), a.target);
        InfoCommand b = new InfoCommand();
        new CommandLine(b).parseArgs("--map=qemu:dirty-bitmap:b0", "nbd://x");
        assertEquals("qemu:dirty-bitmap:b0", b.map);
    }

    @Test
    void errorsAreOneLineWithExitOne() {
        Path none = dir.resolve("none.sock");
        for (List<String> args : List.of(List.of("info", "foo://bar"),
                List.of("info", "nbd+unix:///?socket=" + none),
                List.of("info", "--size", "nbd+unix:///x?socket=" + none),
                List.of("info", "nbd://localhost:1/"))) {
            CliRun.Run r = nbd(args.toArray(new String[0]));
            assertEquals(1, r.code(), args + ": " + r);
            assertEquals(1, r.err().lines().count(), r.err());
            assertTrue(r.err().startsWith("nbd info: "), r.err());
            assertEquals("", r.out());
        }
        for (List<String> args : List.of(List.of("info", "--totals", "nbd://x"),
                List.of("info", "--list", "--size", "nbd://x"),
                List.of("info", "--can", "nonsense", "nbd://x"),
                List.of("info"))) {
            CliRun.Run r = nbd(args.toArray(new String[0]));
            assertEquals(1, r.code(), args + ": " + r);
            assertTrue(r.err().startsWith("nbd info: "), r.err());
            assertFalse(r.err().contains("\tat "), r.err());
        }
        CliRun.Run d = nbd("info", "--debug", "nbd+unix:///?socket=" + none);
        assertTrue(d.err().contains("\tat "), "stack trace with --debug: " + d.err());
    }

    @Test
    void helpWorks() {
        CliRun.Run h = nbd("info", "--help").ok();
        assertTrue(h.out().contains("--map") && h.out().contains("--can"), h.out());
    }

    // ------------------------------------------------------------------------------------------ comparisons

    private static String[] info(String... args) {
        List<String> all = new ArrayList<>(List.of("info"));
        all.addAll(List.of(args));
        return all.toArray(new String[0]);
    }

    /** Same exit code and the very same stdout as nbdinfo. */
    private static void sameOutput(String... args) {
        PeerClients.Result theirs = PeerClients.nbdinfo(args);
        CliRun.Run ours = nbd(info(args));
        assertEquals(theirs.exitCode(), ours.code(), "exit code of " + List.of(args) + "\n" + theirs + "\n" + ours);
        if (theirs.exitCode() == 0) {
            assertEquals(theirs.stdout(), ours.out(), "output of " + List.of(args));
        }
    }

    /** nbdinfo --json and nbd info --json parsed: the same keys everywhere, the same values. */
    private static void sameJson(String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of("--json"));
        a.addAll(List.of(args));
        String[] withJson = a.toArray(new String[0]);
        JsonNode theirs = JSON.readTree(PeerClients.nbdinfo(withJson).assertSuccess().stdout());
        JsonNode ours = JSON.readTree(nbd(info(withJson)).ok().out());
        assertEquals(keys(theirs), keys(ours), "keys of " + List.of(args));
        assertEquals(theirs, ours, "values of " + List.of(args));
    }

    private static TreeSet<String> keys(JsonNode n) {
        TreeSet<String> out = new TreeSet<>();
        collect(n, "", out);
        return out;
    }

    private static void collect(JsonNode n, String path, TreeSet<String> out) {
        if (n.isObject()) {
            for (Iterator<String> it = n.fieldNames(); it.hasNext();) {
                String k = it.next();
                out.add(path + "/" + k);
                collect(n.get(k), path + "/" + k, out);
            }
        } else if (n.isArray()) {
            for (int i = 0; i < n.size(); i++) {
                collect(n.get(i), path + "[" + i + "]", out);
            }
        }
    }

    @Test
    void nbdkitMemory() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=64M").start()) {
            sameJson(s.uri());
            sameOutput(s.uri());
            sameOutput("--size", s.uri());
            sameOutput("--can", "flush", s.uri());
            sameOutput("--can", "multi-conn", s.uri());
            sameOutput("--is", "read-only", s.uri());
            sameOutput("--is", "rotational", s.uri());
            sameOutput("--can", "structured-reply", s.uri());
            sameOutput("--no-content", s.uri());
            assertEquals(0, nbd("info", "--can", "flush", s.uri()).code());
            assertEquals(2, nbd("info", "--is", "read-only", s.uri()).code());
        }
    }

    @Test
    void nbdkitReadOnlyWithoutStructuredReplies() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=1M").readOnly().noStructuredReplies().start()) {
            sameJson(s.uri());
            sameOutput("--is", "read-only", s.uri());
            sameOutput("--can", "write", s.uri());
            sameOutput("--can", "df", s.uri());
            sameOutput("--map", s.uri());
        }
    }

    @Test
    void nbdkitSeveralExportsList() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=1M")
                .filter("exportname", "exportname=a", "exportname=b c", "exportdesc=fixed:the disk",
                        "exportname-list=explicit", "exportname-strict=true").exportName("a").start()) {
            sameJson("--list", s.uri());
            sameOutput("--list", s.uri());
            sameOutput("--list", "--content", s.uri());
            sameJson(s.uri());
            sameJson(s.uri("b c"));
            sameOutput(s.uri("b c"));
            CliRun.Run unknown = nbd("info", s.uri("zz"));
            assertEquals(PeerClients.nbdinfo(s.uri("zz")).exitCode(), unknown.code());
            assertEquals(1, unknown.err().lines().count(), unknown.err());
            assertTrue(unknown.err().contains("for export: zz"), unknown.err());
        }
    }

    @Test
    void nbdkitDataPluginMaps() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("data", "data=1 @0x10000 2 @0x30000 0 @0x80000 3", "size=1M").start()) {
            sameOutput("--map", s.uri());
            sameOutput("--map", "--json", s.uri());
            sameOutput("--map", "--totals", s.uri());
            sameOutput("--map", "--totals", "--json", s.uri());
            sameOutput("--map=nonesuch", s.uri());
            assertTrue(nbd("info", "--map", s.uri()).out().contains("hole,zero"));
        }
    }

    @Test
    void qemuNbdDirtyBitmap() throws Exception {
        Path image = PeerServer.createQcow2WithDirtyBitmap(dir.resolve("d.qcow2"), 4L << 20, "b0");
        try (PeerServer s = PeerServer.qemuNbd(image, "qcow2", "disk", "-B", "b0", "-A")) {
            sameJson(s.uri());
            sameOutput(s.uri());
            sameJson("--list", s.uri());
            sameOutput("--map", s.uri());
            sameOutput("--map=qemu:dirty-bitmap:b0", s.uri());
            sameOutput("--map=qemu:dirty-bitmap:b0", "--json", s.uri());
            sameOutput("--map=qemu:allocation-depth", s.uri());
            sameOutput("--map=qemu:dirty-bitmap:b0", "--totals", s.uri());
            sameOutput("--can", "multi-conn", s.uri());
            assertTrue(nbd("info", "--map=qemu:dirty-bitmap:b0", s.uri()).out()
                    .contains("   1048576       65536    1  dirty"));
        }
    }

    /**
     * qemu-nbd 10 negotiates extended headers and advertises NBD_FLAG_BLOCK_STATUS_PAYLOAD, so {@code --map} sends
     * filtered block status; the map must still be the very one nbdinfo prints. The image is made by qemu 10's tools.
     */
    @Test
    void qemuNbd10MapWithExtendedHeadersAndTheFilter() throws Exception {
        String image = dir.resolve("q10.qcow2").toString();
        PeerClients.qemu10("qemu-img", "create", "-q", "-f", "qcow2", image, "4M").assertSuccess();
        PeerClients.qemu10("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 64k", image).assertSuccess();
        PeerClients.qemu10("qemu-img", "bitmap", "--add", image, "b0").assertSuccess();
        PeerClients.qemu10("qemu-io", "-f", "qcow2", "-c", "write -P 0x22 1M 64k", image).assertSuccess();
        try (PeerServer s = PeerServer.qemuNbd10(Path.of(image), "qcow2", "disk", "-B", "b0", "-A")) {
            sameOutput("--map", s.uri());
            sameOutput("--map=qemu:dirty-bitmap:b0", s.uri());
            sameOutput("--map=qemu:dirty-bitmap:b0", "--totals", s.uri());
            sameOutput("--map=qemu:allocation-depth", "--json", s.uri());
            sameOutput("--map=nonesuch", s.uri());
            String map = nbd("info", "--map=qemu:dirty-bitmap:b0", s.uri()).ok().out();
            assertTrue(map.contains("         0     1048576    0  clean"), map);
            assertTrue(map.contains("   1048576       65536    1  dirty"), map);
        }
    }

    @Test
    void nbdServer() throws Exception {
        Path image = dir.resolve("ns.img");
        java.nio.file.Files.write(image, new byte[3 << 20]);
        try (PeerServer s = PeerServer.nbdServer(image, "ns")) {
            sameJson(s.uri());
            sameOutput(s.uri());
            sameJson("--list", s.uri());
            sameOutput("--list", s.uri());
            sameOutput("--size", s.uri());
            sameOutput("--can", "flush", s.uri());
            sameOutput("--can", "zero", s.uri());
            sameOutput("--map", s.uri());
            assertEquals((3 << 20) + "\n", nbd("info", "--size", s.uri()).ok().out());
        }
    }

    @Test
    void exampleServer() throws Exception {
        Path socket = dir.resolve("ex.sock");
        MemoryExport disk = new MemoryExport(8L << 20);
        disk.write(1 << 20, io.netty.buffer.Unpooled.wrappedBuffer(new byte[128 << 10]), false);
        try (NbdServer server = NbdServer.builder().export("disk", disk, "example disk")
                .export("other", new MemoryExport(1L << 20)).build()) {
            server.bind(new DomainSocketAddress(socket.toString()));
            String uri = "nbd+unix:///disk?socket=" + socket;
            sameJson(uri);
            sameJson("--list", uri);
            sameOutput("--list", uri);
            sameOutput("--map", uri);
            sameOutput("--map=qemu:allocation-depth", uri);
            sameOutput("--map=qemu:allocation-depth", "--totals", uri);
            assertTrue(nbd("info", "--map=qemu:allocation-depth", uri).ok().out().contains("1  local"));
            sameOutput("--size", uri);
            sameOutput("--can", "trim", uri);
        }
    }

    @Test
    void bracketCommandServerAnswersLikeNbdinfo() throws Exception {
        io.nbdnetty.testing.peers.Interop.requireCommand("nbdkit");
        io.nbdnetty.testing.peers.Interop.requireCommand("socat");
        CliRun.Run size = nbd("info", "--size", "[", "nbdkit", "memory", "3M", "]");
        assertEquals(0, size.code(), size.err());
        assertEquals(PeerClients.nbdinfo("--size", "[", "nbdkit", "memory", "3M", "]").assertSuccess().stdout(),
                size.out());
        CliRun.Run can = nbd("info", "--can", "flush", "[", "nbdkit", "memory", "3M", "]");
        assertEquals(PeerClients.nbdinfo("--can", "flush", "[", "nbdkit", "memory", "3M", "]").exitCode(),
                can.code());
    }
}
