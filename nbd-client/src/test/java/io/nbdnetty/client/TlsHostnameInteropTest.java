package io.nbdnetty.client;

import io.nbdnetty.testing.peers.Interop;
import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static io.nbdnetty.client.TestSupport.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The TLS host name (libnbd's {@code set_tls_hostname}: {@link NbdClientConfig#tlsHostname()}, URI query
 * {@code tls-hostname}) against {@code nbdkit --tls=require} whose certificate names another host,
 * {@code nbd-server.test} (no {@code localhost}, no IP address), over TCP by IP address and over a Unix socket.
 * libnbd's nbdinfo (1.14, before {@code tls-hostname} existed) is run beside us where it can be: it refuses by IP and
 * accepts over a Unix socket, checking the chain only, as we do.
 */
class TlsHostnameInteropTest {
    private static final String NAME = "nbd-server.test";

    @TempDir
    static Path certs;

    private static Process tcpServer;
    private static int port;

    @BeforeAll
    static void certificatesAndTcpServer() throws Exception {
        Interop.requireCommand("openssl");
        Path nbdkit = Interop.requireCommand("nbdkit");
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
                "-days", "2", "-subj", "/CN=nbd-netty test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server.csr",
                "-subj", "/CN=" + NAME);
        Files.writeString(certs.resolve("server.ext"), "subjectAltName=DNS:" + NAME
                + "\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n");
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
                "-CAcreateserial", "-out", "server-cert.pem", "-days", "2", "-extfile", "server.ext");
        // nbdkit on 127.0.0.1 (PeerServer listens on Unix sockets only): a free port, then wait until it accepts.
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        tcpServer = new ProcessBuilder(nbdkit.toString(), "-f", "--exit-with-parent", "-i", "127.0.0.1", "-p",
                Integer.toString(port), "--tls=require", "--tls-certificates=" + certs, "memory", "size=1M")
                .redirectErrorStream(true).redirectOutput(certs.resolve("nbdkit.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            try (Socket probe = new Socket()) {
                probe.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                break;
            } catch (IOException e) {
                if (!tcpServer.isAlive() || System.nanoTime() > deadline) {
                    throw new IllegalStateException("nbdkit did not listen on 127.0.0.1:" + port + ": "
                            + Files.readString(certs.resolve("nbdkit.log")), e);
                }
                Thread.sleep(50);
            }
        }
    }

    @AfterAll
    static void stopTcpServer() throws Exception {
        if (tcpServer != null) {
            tcpServer.destroy();
            if (!tcpServer.waitFor(5, TimeUnit.SECONDS)) {
                tcpServer.destroyForcibly().waitFor();
            }
        }
    }

    private static void openssl(String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add("openssl");
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(certs.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("openssl " + String.join(" ", args) + " failed:\n" + out);
        }
    }

    private static PeerServer unixServer() {
        return PeerServer.nbdkit("memory", "size=1M").args("--tls=require", "--tls-certificates=" + certs).start();
    }

    private static NbdClientConfig.Builder tls() {
        return NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE).tlsCertificates(certs)
                .handshakeTimeout(Duration.ofSeconds(10));
    }

    private static void roundTrip(NbdConnection c) throws Exception {
        byte[] data = "named host".getBytes();
        await(c.write(0, Unpooled.wrappedBuffer(data)));
        ByteBuf back = await(c.read(0, data.length));
        try {
            assertArrayEquals(data, ByteBufUtil.getBytes(back));
        } finally {
            back.release();
        }
    }

    private static void assertRefused(NbdHandle h, java.util.concurrent.CompletableFuture<NbdConnection> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> await(f));
        assertTrue(e.getCause() instanceof NbdException, String.valueOf(e.getCause()));
        assertTrue(e.getCause().getMessage().contains("TLS handshake failed"), e.getCause().getMessage());
        assertEquals(NbdState.DEAD, h.state());
    }

    @Test
    void byIpTheRightNameIsAccepted() throws Exception {
        try (NbdHandle h = NbdHandle.create(tls().tlsHostname(NAME).build())) {
            assertEquals(NAME, h.config().tlsHostname());
            NbdConnection c = await(h.connectTcp("127.0.0.1", port));
            assertTrue(h.tlsNegotiated());
            roundTrip(c);
        }
    }

    @Test
    void byIpWithoutANameTheAddressIsCheckedAndRefused() throws Exception {
        try (NbdHandle h = NbdHandle.create(tls().build())) {
            assertNull(h.config().tlsHostname());
            assertRefused(h, h.connectTcp("127.0.0.1", port));
        }
        // libnbd refuses the same server the same way.
        PeerClients.Result theirs = PeerClients.nbdinfo("--size", "nbds://127.0.0.1:" + port
                + "/?tls-certificates=" + certs);
        assertNotEquals(0, theirs.exitCode(), theirs.toString());
        assertTrue(theirs.stderr().contains("certificate"), theirs.stderr());
    }

    @Test
    void byIpAWrongNameIsRefused() throws Exception {
        try (NbdHandle h = NbdHandle.create(tls().tlsHostname("localhost").build())) {
            assertRefused(h, h.connectTcp("127.0.0.1", port));
        }
    }

    @Test
    void theUriQuerySetsTheName() throws Exception {
        NbdUri right = NbdUri.parse("nbds://127.0.0.1:" + port + "/?tls-certificates=" + certs
                + "&tls-hostname=" + NAME);
        assertEquals(NAME, right.configure(NbdClientConfig.defaults()).tlsHostname());
        try (NbdHandle h = NbdHandle.create()) {
            roundTrip(await(h.connect(right)));
        }
        NbdUri wrong = NbdUri.parse("nbds://127.0.0.1:" + port + "/?tls-certificates=" + certs
                + "&tls-hostname=other.test");
        try (NbdHandle h = NbdHandle.create(NbdClientConfig.builder().handshakeTimeout(Duration.ofSeconds(10))
                .build())) {
            assertRefused(h, h.connect(wrong));
        }
    }

    @Test
    void overAUnixSocketTheRightNameIsAcceptedAndAWrongOneRefused() throws Exception {
        try (PeerServer server = unixServer()) {
            try (NbdHandle h = NbdHandle.create(tls().tlsHostname(NAME).build())) {
                NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
                assertTrue(h.tlsNegotiated());
                roundTrip(c);
            }
            try (NbdHandle h = NbdHandle.create(tls().tlsHostname("localhost").build())) {
                assertRefused(h, h.connect(UnixSockets.connect(server.socketPath())));
            }
            try (NbdHandle h = NbdHandle.create()) {
                roundTrip(await(h.connect(NbdUri.parse("nbds+unix:///?socket=" + server.socketPath()
                        + "&tls-certificates=" + certs + "&tls-hostname=" + NAME))));
            }
        }
    }

    /**
     * A Unix socket has no host name to check: without {@code tlsHostname} only the chain is verified (documented in
     * docs/tls.md), which is what libnbd does too. The chain still has to lead to the CA: a server whose certificate
     * names another host is accepted, one signed by another CA is not (TlsInteropTest).
     */
    @Test
    void overAUnixSocketWithoutANameOnlyTheChainIsChecked() throws Exception {
        try (PeerServer server = unixServer(); NbdHandle h = NbdHandle.create(tls().build())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            assertTrue(h.tlsNegotiated());
            roundTrip(c);
            PeerClients.Result theirs = PeerClients.nbdinfo("--size", "nbds+unix:///?socket=" + server.socketPath()
                    + "&tls-certificates=" + certs);
            assertEquals(0, theirs.exitCode(), "libnbd accepts it too: " + theirs);
        }
    }
}
