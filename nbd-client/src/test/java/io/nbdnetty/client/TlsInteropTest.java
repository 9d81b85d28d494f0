package io.nbdnetty.client;

import io.nbdnetty.testing.peers.Interop;
import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static io.nbdnetty.client.TestSupport.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * NBD_OPT_STARTTLS against {@code nbdkit --tls=require}, with X.509 certificates made by openssl in the test, in
 * nbdkit/libnbd's directory layout.
 */
class TlsInteropTest {
    @TempDir
    static Path certs;
    @TempDir
    static Path otherCa;

    @BeforeAll
    static void makeCertificates() throws Exception {
        Interop.requireCommand("openssl");
        makeCa(certs);
        makeLeaf(certs, "server", "serverAuth");
        makeLeaf(certs, "client", "clientAuth");
        makeCa(otherCa);
    }

    private static void openssl(Path dir, String... args) throws Exception {
        java.util.List<String> cmd = new java.util.ArrayList<>();
        cmd.add("openssl");
        cmd.addAll(java.util.List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("openssl " + String.join(" ", args) + " failed:\n" + out);
        }
    }

    private static void makeCa(Path dir) throws Exception {
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
                "-days", "2", "-subj", "/CN=nbd-netty test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    }

    private static void makeLeaf(Path dir, String name, String usage) throws Exception {
        openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + "-key.pem", "-out", name + ".csr",
                "-subj", "/CN=localhost");
        Files.writeString(dir.resolve(name + ".ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                + "extendedKeyUsage=" + usage + "\nkeyUsage=digitalSignature,keyEncipherment\n");
        openssl(dir, "x509", "-req", "-in", name + ".csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
                "-CAcreateserial", "-out", name + "-cert.pem", "-days", "2", "-extfile", name + ".ext");
    }

    private static PeerServer tlsServer(String... extra) {
        String[] args = new String[extra.length + 2];
        args[0] = "--tls=require";
        args[1] = "--tls-certificates=" + certs;
        System.arraycopy(extra, 0, args, 2, extra.length);
        return PeerServer.nbdkit("memory", "size=1M").args(args).start();
    }

    private static void roundTrip(NbdConnection c) throws Exception {
        byte[] data = "over TLS".getBytes();
        await(c.write(4096, Unpooled.wrappedBuffer(data)));
        ByteBuf back = await(c.read(4096, data.length));
        try {
            assertArrayEquals(data, ByteBufUtil.getBytes(back));
        } finally {
            back.release();
        }
    }

    @Test
    void requiredTlsWithTheCaAndHostnameWorks() throws Exception {
        try (PeerServer server = tlsServer();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE)
                     .tlsCertificates(certs).tlsHostname("localhost").build())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            assertTrue(h.tlsNegotiated());
            assertEquals(NbdReplyStyle.STRUCTURED, c.replyStyle(), "structured replies negotiated after TLS");
            roundTrip(c);
        }
    }

    @Test
    void clientCertificateIsPresentedWhenTheServerVerifiesPeers() throws Exception {
        try (PeerServer server = tlsServer("--tls-verify-peer");
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE)
                     .tlsCertificates(certs).build())) {
            roundTrip(await(h.connect(UnixSockets.connect(server.socketPath()))));
        }
    }

    @Test
    void aServerThatWantsAClientCertificateAndGetsNoneIsExplained(@TempDir Path caOnly) throws Exception {
        Files.copy(certs.resolve("ca-cert.pem"), caOnly.resolve("ca-cert.pem"));
        for (io.netty.handler.ssl.SslProvider engine : new io.netty.handler.ssl.SslProvider[] {
                io.netty.handler.ssl.SslProvider.OPENSSL, io.netty.handler.ssl.SslProvider.JDK}) {
            try (PeerServer server = tlsServer("--tls-verify-peer");
                 NbdHandle h = NbdHandle.create(NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE)
                         .tlsProvider(engine).tlsCertificates(caOnly).tlsHostname("localhost")
                         .handshakeTimeout(Duration.ofSeconds(10)).build())) {
                ExecutionException e = assertThrows(ExecutionException.class,
                        () -> await(h.connect(UnixSockets.connect(server.socketPath()))), engine.name());
                String m = e.getCause().getMessage();
                assertTrue(m.contains("no client certificate was sent: the server may require one")
                        || m.contains("the server requires a client certificate"), engine + ": " + m);
                assertEquals(NbdState.DEAD, h.state());
            }
        }
        // With the certificate, no such words: the same server lets the client in.
        try (PeerServer server = tlsServer("--tls-verify-peer");
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE)
                     .tlsCertificates(certs).tlsHostname("localhost").build())) {
            roundTrip(await(h.connect(UnixSockets.connect(server.socketPath()))));
        }
    }

    @Test
    void serverCertificateFromAnotherCaIsRejected() throws Exception {
        try (PeerServer server = tlsServer();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE)
                     .tlsCertificates(otherCa).handshakeTimeout(Duration.ofSeconds(10)).build())) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> await(h.connect(UnixSockets.connect(server.socketPath()))));
            assertInstanceOf(NbdException.class, e.getCause());
            assertTrue(e.getCause().getMessage().contains("TLS handshake failed"), e.getCause().getMessage());
            assertEquals(NbdState.DEAD, h.state());
        }
    }

    @Test
    void wrongHostnameIsRejected() throws Exception {
        try (PeerServer server = tlsServer();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE)
                     .tlsCertificates(certs).tlsHostname("not-the-server.example").build())) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> await(h.connect(UnixSockets.connect(server.socketPath()))));
            assertTrue(e.getCause().getMessage().contains("TLS handshake failed"), e.getCause().getMessage());
        }
    }

    @Test
    void requiredTlsRefusesAPlainServerInsteadOfDowngrading() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").args("--tls=off").start();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE)
                     .tlsCertificates(certs).build())) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> await(h.connect(UnixSockets.connect(server.socketPath()))));
            NbdOptionException oe = assertInstanceOf(NbdOptionException.class, e.getCause());
            assertTrue(oe.getMessage().contains("TLS is required"), oe.getMessage());
            assertEquals(NbdState.DEAD, h.state());
        }
    }

    @Test
    void allowedTlsFallsBackToPlainWhereTheServerHasNone() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").args("--tls=off").start();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().tls(NbdTlsMode.ALLOW)
                     .tlsCertificates(certs).build())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            assertFalse(h.tlsNegotiated());
            roundTrip(c);
        }
    }

    @Test
    void plainClientAgainstTlsRequiredServerGetsTlsRequired() throws Exception {
        try (PeerServer server = tlsServer(); NbdHandle h = NbdHandle.create()) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> await(h.connect(UnixSockets.connect(server.socketPath()))));
            NbdOptionException oe = assertInstanceOf(NbdOptionException.class, e.getCause());
            assertEquals("NBD_REP_ERR_TLS_REQD", oe.replyType().name());
        }
    }

    @Test
    void nbdsUnixUriWithCertificatesInTheQuery() throws Exception {
        try (PeerServer server = tlsServer(); NbdHandle h = NbdHandle.create()) {
            NbdUri uri = NbdUri.parse("nbds+unix:///?socket=" + server.socketPath() + "&tls-certificates=" + certs);
            NbdConnection c = await(h.connect(uri));
            assertTrue(h.tlsNegotiated());
            roundTrip(c);
            // libnbd's nbdinfo reaches the same server with the same URI.
            assertEquals(1L << 20, PeerClients.nbdinfoJson(uri.toString() + "&tls-certificates=" + certs)
                    .assertSuccess().jsonNumber("export-size"));
        }
    }

    @Test
    void optModeStartTlsByHand() throws Exception {
        try (PeerServer server = tlsServer();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().optMode(true).tlsCertificates(certs)
                     .build())) {
            h.connect(UnixSockets.connect(server.socketPath()));
            await(h.negotiatingFuture());
            assertFalse(h.tlsNegotiated());
            ExecutionException refused = assertThrows(ExecutionException.class, () -> await(h.optList()));
            assertInstanceOf(NbdOptionException.class, refused.getCause());
            assertTrue(await(h.optStartTls()));
            assertTrue(h.tlsNegotiated());
            assertTrue(await(h.optStructuredReply()));
            roundTrip(await(h.optGo()));
        }
    }

    @Test
    void defaultEngineIsBoringSslWhereItLoadsAndTheJdkEngineCanStillBeChosen() throws Exception {
        assertTrue(io.netty.handler.ssl.OpenSsl.isAvailable(), "netty-tcnative is a test dependency");
        assertEquals(io.netty.handler.ssl.SslProvider.OPENSSL, NbdClientConfig.builder().build().tlsProvider(),
                "without a provider set, BoringSSL where netty-tcnative loads");
        NbdClientConfig jdk = NbdClientConfig.builder().tlsProvider(io.netty.handler.ssl.SslProvider.JDK).build();
        assertEquals(io.netty.handler.ssl.SslProvider.JDK, jdk.tlsProvider());
        assertEquals(io.netty.handler.ssl.SslProvider.JDK, jdk.mutate().build().tlsProvider(), "kept by mutate()");
        try (PeerServer server = tlsServer("--tls-verify-peer");
             NbdHandle h = NbdHandle.create(jdk.mutate().tls(NbdTlsMode.REQUIRE).tlsCertificates(certs)
                     .tlsHostname("localhost").build())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            assertTrue(h.tlsNegotiated());
            roundTrip(c);
        }
    }

    @Test
    void boringSslEngineThroughNettyTcnative() throws Exception {
        assertTrue(io.netty.handler.ssl.OpenSsl.isAvailable(), "netty-tcnative is a test dependency");
        try (PeerServer server = tlsServer("--tls-verify-peer");
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE)
                     .tlsProvider(io.netty.handler.ssl.SslProvider.OPENSSL).tlsCertificates(certs)
                     .tlsHostname("localhost").build())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            assertTrue(h.tlsNegotiated());
            roundTrip(c);
        }
        try (PeerServer server = tlsServer();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE)
                     .tlsProvider(io.netty.handler.ssl.SslProvider.OPENSSL).tlsCertificates(certs)
                     .tlsHostname("not-the-server.example").build())) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> await(h.connect(UnixSockets.connect(server.socketPath()))));
            assertTrue(e.getCause().getMessage().contains("TLS handshake failed"), e.getCause().getMessage());
        }
    }
}
