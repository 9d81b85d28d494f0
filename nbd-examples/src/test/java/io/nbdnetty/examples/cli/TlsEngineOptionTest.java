package io.nbdnetty.examples.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.TlsCertificates;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import static io.nbdnetty.examples.cli.CliRun.nbd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --tls-engine=jdk|openssl} of the client commands, against {@code nbdkit --tls=require} with certificates
 * made by openssl (nbdkit's and libnbd's directory layout), and its fallback where BoringSSL does not load.
 */
@Timeout(300)
class TlsEngineOptionTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path certs;

    @TempDir
    Path dir;

    @BeforeAll
    static void makeCertificates() throws Exception {
        TlsCertificates.create(certs);
    }

    /** nbdkit's pattern plugin: each 8-byte word is its own offset, big-endian. */
    private static byte[] pattern(int size) {
        ByteBuffer b = ByteBuffer.allocate(size);
        for (long off = 0; off < size; off += 8) {
            b.putLong(off);
        }
        return b.array();
    }

    private static PeerServer tlsPattern(int size) {
        return PeerServer.nbdkit("pattern", "size=" + size).readOnly()
                .args("--tls=require", "--tls-certificates=" + certs, "--tls-verify-peer").start();
    }

    private static String tlsUri(PeerServer s) {
        return "nbds+unix:///?socket=" + s.socketPath() + "&tls-certificates=" + certs + "&tls-hostname=localhost";
    }

    @Test
    void bothEnginesCopyAndBenchOverTlsAgainstNbdkit() throws Exception {
        assertTrue(OpenSsl.isAvailable(), "netty-tcnative-boringssl-static is a dependency of the CLI: "
                + OpenSsl.unavailabilityCause());
        int size = 4 << 20;
        try (PeerServer s = tlsPattern(size)) {
            String uri = tlsUri(s);
            for (String engine : new String[] {"jdk", "openssl"}) {
                Path out = dir.resolve(engine + ".img");
                CliRun.Run copy = nbd("copy", "--tls-engine=" + engine, uri, out.toString()).ok();
                assertEquals("", copy.err());
                assertEquals(-1, Files.mismatch(out, writePattern(size)), engine + ": the copy is nbdkit's pattern");

                JsonNode r = JSON.readTree(nbd("bench", "--json", "--tls-engine", engine, "--rw", "read",
                        "--bs", "256K", "--iodepth", "4", "--size", "4M", uri).ok().out());
                assertEquals(engine, r.get("tls_engine").asText(), r.toString());
                assertEquals(4L << 20, r.get("read").get("bytes").asLong(), r.toString());

                assertEquals(String.valueOf(size), nbd("info", "--tls-engine", engine, "--size", uri).ok().out()
                        .strip());
            }
            // The default where BoringSSL loads (as it does here): openssl.
            CliRun.Run def = nbd("bench", "--runtime", "0.2", uri).ok();
            assertTrue(def.out().contains(" tls-engine=openssl "), def.out());
            assertEquals("", def.err());
            String ours = nbd("info", "--tls-engine=jdk", "--no-content", uri).ok().out();
            assertTrue(ours.startsWith("protocol: newstyle-fixed with TLS"), ours);
        }
    }

    @Test
    void backupOverTlsWithEitherEngine() throws Exception {
        int size = 1 << 20;
        try (PeerServer s = tlsPattern(size)) {
            for (String engine : new String[] {"jdk", "openssl"}) {
                Path out = dir.resolve("backup-" + engine + ".img");
                CliRun.Run r = nbd("backup", "--tls-engine", engine, tlsUri(s), out.toString());
                assertEquals(0, r.code(), r.toString());
                assertTrue(Files.exists(out), r.toString());
                assertEquals(-1, Files.mismatch(out, writePattern(size)), engine);
            }
        }
    }

    private Path writePattern(int size) throws Exception {
        Path p = dir.resolve("pattern-" + size + ".img");
        if (!Files.exists(p)) {
            Files.write(p, pattern(size));
        }
        return p;
    }

    @Test
    void plainConnectionsReportNoEngine() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=1M").start()) {
            JsonNode r = JSON.readTree(nbd("bench", "--json", "--tls-engine=jdk", "--runtime", "0.2", s.uri()).ok()
                    .out());
            assertFalse(r.has("tls_engine"), r.toString());
        }
    }

    @CommandLine.Command(name = "probe")
    static final class Probe {
        @CommandLine.Mixin
        TlsEngineOption option;

        Probe(TlsEngineOption option) {
            this.option = option;
        }
    }

    private static String[] resolve(TlsEngineOption option, String... args) {
        CommandLine cl = new CommandLine(new Probe(option));
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err));
        cl.parseArgs(args);
        String engine = option.resolve().cliName();
        return new String[] {engine, err.toString()};
    }

    @Test
    void openSslAskedForWhereItDoesNotLoadFallsBackToJdkWithOneWarning() {
        IllegalStateException missing = new IllegalStateException("cannot load the library",
                new UnsatisfiedLinkError("no netty_tcnative_linux_x86_64 in java.library.path"));
        String[] asked = resolve(new TlsEngineOption(() -> missing), "--tls-engine=openssl");
        assertEquals("jdk", asked[0]);
        assertEquals("probe: warning: the openssl TLS engine (BoringSSL) is not available here (no "
                + "netty_tcnative_linux_x86_64 in java.library.path); using jdk\n", asked[1]);
        // Not asked for: the JDK's engine, quietly.
        String[] quiet = resolve(new TlsEngineOption(() -> missing));
        assertEquals("jdk", quiet[0]);
        assertEquals("", quiet[1]);
        // Where it loads: BoringSSL by default, the JDK's when asked for.
        assertEquals("openssl", resolve(new TlsEngineOption(() -> null))[0]);
        assertEquals("jdk", resolve(new TlsEngineOption(() -> null), "--tls-engine", "JDK")[0]);
        // The engine reaches the configuration only for TLS connections.
        TlsEngineOption o = new TlsEngineOption(() -> null);
        resolve(o, "--tls-engine=jdk");
        assertEquals(SslProvider.JDK, o.apply(NbdClientConfig.builder(), true).build().tlsProvider());
    }

    @Test
    void anUnknownEngineIsAUsageError() {
        CliRun.Run r = nbd("bench", "--tls-engine=gnutls", "nbds://localhost");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("nbd bench: Invalid value for option '--tls-engine': 'gnutls' is not a TLS "
                + "engine: jdk or openssl"), r.err());
        for (String cmd : new String[] {"info", "copy", "backup"}) {
            CliRun.Run c = nbd(cmd, "--tls-engine", "rustls", "nbds://localhost", "null:");
            assertEquals(1, c.code(), cmd);
            assertTrue(c.err().contains("'rustls' is not a TLS engine"), c.err());
        }
    }
}
