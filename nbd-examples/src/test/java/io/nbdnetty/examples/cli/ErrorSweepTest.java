package io.nbdnetty.examples.cli;

import io.nbdnetty.testing.peers.Interop;
import io.nbdnetty.testing.peers.PeerServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every error path of every subcommand, as an operator meets it: bad URIs, missing and unreadable files, directories,
 * refused and reset connections, missing sockets, a server (nbdkit) that dies during a copy, TLS failures of each
 * kind against nbdkit, {@code [ CMD ]} programs that do not exist or cannot run, bind failures. Each must end with
 * exit code 1 and one line {@code nbd CMD: message} on stderr (a usage error may add picocli's "Try ... --help"
 * hint), and nothing the user sees may carry a Java or Netty class name, an errno number or an ISO-8601 duration.
 */
class ErrorSweepTest {
    /** What must never reach the user. */
    private static final Pattern FORBIDDEN = Pattern.compile(
            "Exception|java\\.|javax\\.|sun\\.|io\\.netty|error\\(-|PT\\d");

    @TempDir
    static Path dir;
    static Path certs;
    static Path otherCa;
    static PeerServer plain;
    static PeerServer tls;
    static PeerServer tlsVerifying;

    @BeforeAll
    static void servers() throws Exception {
        Interop.requireCommand("nbdkit");
        Interop.requireCommand("openssl");
        certs = Files.createDirectories(dir.resolve("pki"));
        otherCa = Files.createDirectories(dir.resolve("other-pki"));
        makeCa(certs);
        makeLeaf(certs, "server", "serverAuth");
        makeLeaf(certs, "client", "clientAuth");
        makeCa(otherCa);
        plain = PeerServer.nbdkit("memory", "size=1M").start();
        tls = PeerServer.nbdkit("memory", "size=1M").args("--tls=require", "--tls-certificates=" + certs).start();
        tlsVerifying = PeerServer.nbdkit("memory", "size=1M")
                .args("--tls=require", "--tls-certificates=" + certs, "--tls-verify-peer").start();
    }

    @AfterAll
    static void stop() {
        for (PeerServer s : new PeerServer[] {plain, tls, tlsVerifying}) {
            if (s != null) {
                s.close();
            }
        }
    }

    private static void openssl(Path d, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add("openssl");
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(d.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("openssl " + String.join(" ", args) + " failed:\n" + out);
        }
    }

    private static void makeCa(Path d) throws Exception {
        openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
                "-days", "2", "-subj", "/CN=nbd-netty sweep CA");
    }

    private static void makeLeaf(Path d, String name, String usage) throws Exception {
        openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + "-key.pem", "-out", name + ".csr",
                "-subj", "/CN=localhost");
        Files.writeString(d.resolve(name + ".ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage="
                + usage + "\n");
        openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
                "-CAcreateserial", "-out", name + "-cert.pem", "-days", "2", "-extfile", name + ".ext");
    }

    /** Runs nbd in this JVM and checks the one-line rule and that nothing Java-like shows; returns stderr's line. */
    private static String fails(String... args) {
        CliRun.Run r = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> CliRun.nbd(args));
        String what = "nbd " + String.join(" ", args) + "\nstdout: " + r.out() + "\nstderr: " + r.err();
        assertEquals(1, r.code(), what);
        String seen = r.out() + r.err();
        assertFalse(FORBIDDEN.matcher(seen).find(), "Java-like text in what the user sees: " + what);
        List<String> lines = r.err().lines().toList();
        assertFalse(lines.isEmpty(), what);
        String sub = NbdCli.subcommandIn(args);
        String prefix = "nbd" + (sub != null ? " " + sub : "") + ": ";
        assertTrue(lines.get(0).startsWith(prefix) && lines.get(0).length() > prefix.length() + 3,
                "first line must be '" + prefix + "message': " + what);
        for (String extra : lines.subList(1, lines.size())) {
            // picocli's hints after a usage error only.
            assertTrue(extra.startsWith("Try '") || extra.startsWith("Did you mean") || extra.startsWith("Possible ")
                    || extra.startsWith("        "), "one line only: " + what);
        }
        System.out.println("sweep: nbd " + String.join(" ", args) + "\n    -> " + lines.get(0));
        return lines.get(0);
    }

    private static void assertSays(String line, String... words) {
        for (String w : words) {
            assertTrue(line.contains(w), "expected '" + w + "' in: " + line);
        }
    }

    /** A TCP port nothing listens on. */
    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** A server that resets every connection (SO_LINGER 0), after reading what the client sends first. */
    private static ServerSocket resetter() throws IOException {
        ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            while (!ss.isClosed()) {
                try (Socket s = ss.accept()) {
                    s.setSoLinger(true, 0);
                } catch (IOException e) {
                    return;
                }
            }
        }, "resetter");
        t.setDaemon(true);
        t.start();
        return ss;
    }

    @Test
    void badUris() {
        for (String sub : List.of("info", "copy", "bench", "backup")) {
            List<String[]> cases = List.of(
                    new String[] {"nbd://127.0.0.1:99999/"},
                    new String[] {"nbd://[::1"},
                    new String[] {"nbd+unix:///"},
                    new String[] {"nbd+unix://host/?socket=/x"},
                    new String[] {"nbdx://host/"},
                    new String[] {"nbd://host/?bogus=1"});
            for (String[] c : cases) {
                List<String> args = new ArrayList<>(List.of(sub, c[0]));
                if (sub.equals("copy") || sub.equals("backup")) {
                    args.add(dir.resolve("out-" + sub + ".img").toString());
                }
                String line = fails(args.toArray(String[]::new));
                if (!c[0].startsWith("nbdx")) {
                    assertSays(line, "URI");
                }
            }
        }
        assertSays(fails("info", "nbd://127.0.0.1:99999/"), "port 99999");
    }

    @Test
    void missingSocketsAndRefusedConnections() throws Exception {
        String missing = "nbd+unix:///?socket=" + dir.resolve("no-such.sock");
        String refused = "nbd://127.0.0.1:" + closedPort() + "/";
        Path out = dir.resolve("refused-out.img");
        for (String uri : List.of(missing, refused)) {
            String reason = uri == missing ? "No such file or directory" : "Connection refused";
            assertSays(fails("info", uri), "cannot connect", reason);
            assertSays(fails("info", "--size", uri), "cannot connect", reason);
            assertSays(fails("info", "--list", uri), "cannot connect", reason);
            assertSays(fails("copy", uri, "null:"), "cannot connect", reason);
            assertSays(fails("copy", "--flush", uri, out.toString()), "cannot connect", reason);
            assertSays(fails("bench", "--runtime", "1", uri), "cannot connect", reason);
            assertSays(fails("backup", uri, out.toString()), "cannot connect", reason);
        }
    }

    @Test
    void anExportTheServerDoesNotHaveIsNamedWithItsUri() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=1M")
                .filter("exportname", "exportname=disk", "exportname-strict=true").start()) {
            String uri = "nbd+unix:///nosuch?socket=" + s.socketPath();
            String good = "nbd+unix:///disk?socket=" + s.socketPath();
            Path out = dir.resolve("missing-export.img");
            for (String[] args : new String[][] {{"copy", uri, "null:"}, {"copy", good, uri},
                    {"bench", "--runtime", "1", uri}, {"backup", uri, out.toString()}}) {
                assertSays(fails(args), uri + ": ", "NBD_REP_ERR_UNKNOWN (the export is not available)",
                        "nbd info --list");
            }
            assertSays(fails("info", uri), "nosuch", "--list");
        }
    }

    @Test
    void resetConnections() throws Exception {
        try (ServerSocket ss = resetter()) {
            String uri = "nbd://127.0.0.1:" + ss.getLocalPort() + "/";
            for (String[] args : List.of(new String[] {"info", uri}, new String[] {"copy", uri, "null:"},
                    new String[] {"bench", "--runtime", "1", uri},
                    new String[] {"backup", uri, dir.resolve("reset.img").toString()})) {
                String line = fails(args);
                assertTrue(line.contains("Connection reset by peer") || line.contains("closed the connection"),
                        line);
            }
        }
    }

    @Test
    void localFiles() throws Exception {
        String uri = plain.uri();
        Path missing = dir.resolve("no-such-file.img");
        assertSays(fails("copy", missing.toString(), uri), missing.toString(), "No such file or directory");
        assertSays(fails("copy", dir.toString(), uri), dir.toString(), "Is a directory");
        assertSays(fails("copy", uri, dir.toString()), dir.toString(), "Is a directory");
        Path noDir = dir.resolve("no-such-dir").resolve("out.img");
        assertSays(fails("copy", uri, noDir.toString()), noDir.toString(), "No such file or directory");
        assertSays(fails("backup", uri, noDir.toString()), "no-such-dir");
        // A file that even root may not read.
        assertSays(fails("copy", "/proc/sys/vm/compact_memory", "null:"), "/proc/sys/vm/compact_memory",
                "Permission denied");
        // Cannot be created even by root.
        assertSays(fails("copy", uri, "/proc/nbd-netty-out.img"), "/proc/nbd-netty-out.img");
    }

    @Test
    void unreadableAndUnwritableFilesForAnOrdinaryUser() throws Exception {
        // As root the permission bits do not stop anyone: check the message this path gives, from the exception
        // the JDK raises for it, through the CLI's own wording.
        java.nio.file.AccessDeniedException denied = new java.nio.file.AccessDeniedException("/srv/out.img");
        assertEquals("/srv/out.img: Permission denied", CliErrors.describe(denied));
        assertEquals("/srv/in.img: Permission denied",
                CliErrors.describe(new java.io.FileNotFoundException("/srv/in.img (Permission denied)")));
        assertEquals("/srv/x.img: No such file or directory",
                CliErrors.describe(new java.nio.file.NoSuchFileException("/srv/x.img")));
    }

    @Test
    void commandsThatCannotRun() throws Exception {
        assertEquals("nbd info: nosuchcmd-xyz: No such file or directory", fails("info", "[", "nosuchcmd-xyz",
                "foo", "]"));
        Path notExecutable = Files.writeString(dir.resolve("not-executable"), "#!/bin/sh\n");
        assertSays(fails("info", "[", notExecutable.toString(), "]"), "Permission denied");
        assertSays(fails("copy", "[", "nosuchcmd-xyz", "]", "null:"), "nosuchcmd-xyz: No such file or directory");
        assertSays(fails("copy", "null:", "[", "nosuchcmd-xyz", "]"), "nosuchcmd-xyz");
        // A program that runs but speaks no NBD.
        assertSays(fails("info", "[", "true", "]"), "closed the connection");
        fails("info", "[", "nbdkit", "no-such-plugin-xyz", "]");
        fails("info", "[", "]");
        fails("info", "[", "nbdkit", "memory", "1M");
    }

    @Test
    void serverDiesDuringACopy() throws Exception {
        try (PeerServer slow = PeerServer.nbdkit("memory", "size=256M").filter("delay", "rdelay=50ms").start()) {
            // Data everywhere so that every read goes to the server.
            assertEquals(0, CliRun.nbd("copy", "[", "nbdkit", "pattern", "256M", "]", slow.uri()).code());
            CompletableFuture<CliRun.Run> run = CompletableFuture.supplyAsync(
                    () -> CliRun.nbd("copy", "-C", "1", "-R", "1", slow.uri(), "null:"));
            Thread.sleep(1500);
            assertFalse(run.isDone(), "the copy should still be running");
            slow.kill();
            CliRun.Run r = run.get(60, TimeUnit.SECONDS);
            assertEquals(1, r.code(), r.toString());
            assertFalse(FORBIDDEN.matcher(r.out() + r.err()).find(), r.err());
            assertTrue(r.err().startsWith("nbd copy: "), r.err());
            assertEquals(1, r.err().lines().count(), r.err());
        }
    }

    @Test
    void tlsFailures() throws Exception {
        // Not trusted: the JDK's own trust store does not know our CA.
        assertSays(fails("info", tls.uri().replace("nbd+unix", "nbds+unix")), "not trusted",
                "tls-certificates");
        // Trusted CA, wrong host name.
        assertSays(fails("info", tls.uri().replace("nbd+unix", "nbds+unix") + "&tls-certificates=" + otherCa),
                "not trusted");
        String good = tls.uri().replace("nbd+unix", "nbds+unix") + "&tls-certificates=" + certs;
        assertSays(fails("info", good + "&tls-hostname=not-the-server.example"), "host name");
        // TLS required by the client, a server without it.
        assertSays(fails("info", plain.uri().replace("nbd+unix", "nbds+unix") + "&tls-certificates=" + certs),
                "TLS");
        // A plain client, a server that requires TLS.
        assertSays(fails("info", tls.uri()), "TLS");
        // The server wants a client certificate that the client does not have.
        Path caOnly = Files.createDirectories(dir.resolve("ca-only"));
        Files.copy(certs.resolve("ca-cert.pem"), caOnly.resolve("ca-cert.pem"));
        fails("info", tlsVerifying.uri().replace("nbd+unix", "nbds+unix") + "&tls-certificates=" + caOnly);
        fails("copy", tlsVerifying.uri().replace("nbd+unix", "nbds+unix") + "&tls-certificates=" + caOnly, "null:");
        // The client certificate of another CA.
        Path wrongClient = Files.createDirectories(dir.resolve("wrong-client"));
        makeLeaf(otherCa, "client", "clientAuth");
        Files.copy(certs.resolve("ca-cert.pem"), wrongClient.resolve("ca-cert.pem"));
        Files.copy(otherCa.resolve("client-cert.pem"), wrongClient.resolve("client-cert.pem"));
        Files.copy(otherCa.resolve("client-key.pem"), wrongClient.resolve("client-key.pem"));
        fails("info", tlsVerifying.uri().replace("nbd+unix", "nbds+unix") + "&tls-certificates=" + wrongClient);
        // A certificate directory with a broken CA file.
        Path broken = Files.createDirectories(dir.resolve("broken"));
        Files.writeString(broken.resolve("ca-cert.pem"), "not a certificate\n");
        fails("info", tls.uri().replace("nbd+unix", "nbds+unix") + "&tls-certificates=" + broken);
    }

    @Test
    void bindFailures() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            assertSays(fails("serve", "--port", String.valueOf(taken.getLocalPort()), "--size", "1M"),
                    "cannot listen on 127.0.0.1:" + taken.getLocalPort(), "Address already in use");
        }
        assertSays(fails("serve", "--unix", plain.socketPath().toString(), "--size", "1M"), "cannot listen",
                plain.socketPath().toString());
        Path noDir = dir.resolve("no-such-dir").resolve("s.sock");
        assertSays(fails("serve", "--unix", noDir.toString(), "--size", "1M"), "cannot listen");
        assertSays(fails("serve", "--file", dir.resolve("no-such.img").toString()), "no-such.img",
                "No such file or directory");
        assertSays(fails("serve", "--file", dir.toString()), dir.toString());
        fails("serve", "--size", "lots");
        assertSays(fails("serve", "--port", "99999", "--size", "1M"), "--port 99999 is out of range");
    }

    @Test
    void usageErrorsOfEverySubcommand() {
        fails("nosuchcommand");
        for (String sub : NbdCli.SUBCOMMANDS.keySet()) {
            fails(sub, "--no-such-option");
        }
        fails("info");
        fails("copy");
        fails("copy", "x");
        fails("copy", "a", "b", "c");
        fails("copy", "[", "nbdkit", "memory", "1M", "null:");
        fails("copy", "-C", "0", plain.uri(), "null:");
        fails("copy", "--request-size", "huge", plain.uri(), "null:");
        fails("bench");
        fails("bench", "--rw", "sideways", plain.uri());
        fails("bench", "--bs", "nonsense", plain.uri());
        fails("backup", plain.uri());
        fails("backup", "--incremental", plain.uri(), dir.resolve("inc.img").toString());
        fails("info", "--map=", plain.uri());
        fails("info", "--can", "fly", plain.uri());
        fails("demo", "extra");
    }

    @Test
    void exportsThatDoNotExist() {
        try (PeerServer strict = PeerServer.nbdkit("memory", "size=1M", "exportname=a", "exportname-strict=true")
                .filter("exportname").start()) {
            fails("info", strict.uri("no-such-export"));
            fails("info", "--size", strict.uri("no-such-export"));
            fails("copy", strict.uri("no-such-export"), "null:");
            fails("bench", "--runtime", "1", strict.uri("no-such-export"));
            fails("backup", strict.uri("no-such-export"), dir.resolve("export.img").toString());
        }
    }

    @Test
    void writesToAReadOnlyServer() throws Exception {
        try (PeerServer ro = PeerServer.nbdkit("memory", "size=1M").readOnly().start()) {
            Path src = Files.write(dir.resolve("data.img"), new byte[1 << 20]);
            Files.write(src, "some data".getBytes(StandardCharsets.UTF_8));
            fails("copy", src.toString(), ro.uri());
            fails("bench", "--rw", "randwrite", "--runtime", "1", ro.uri());
        }
    }

    /** The sweep's pattern catches what the issue reported, and not a plain message. */
    @Test
    void theForbiddenPatternCatchesWhatWasReported() {
        if (FORBIDDEN.matcher("nbd copy: /x: No such file or directory").find()) {
            fail("the pattern is too broad");
        }
        assertTrue(FORBIDDEN.matcher("recvAddress(..) failed with error(-104)").find());
        assertTrue(FORBIDDEN.matcher("within PT30S").find());
        assertTrue(FORBIDDEN.matcher("io.netty.channel.unix.Errors$NativeIoException").find());
    }
}
