package io.nbdnetty.examples.docs;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdTlsMode;
import io.nbdnetty.client.NbdUri;
import io.nbdnetty.testing.peers.Interop;
import io.nbdnetty.testing.peers.PeerServer;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The code of docs/tls.md, against {@code nbdkit --tls=require} with certificates made by openssl in nbdkit's and
 * libnbd's directory layout.
 */
@Timeout(180)
class TlsDocTest {
    @TempDir
    static Path certificateDir;

    @BeforeAll
    static void makeCertificates() throws Exception {
        Interop.requireCommand("openssl");
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
                "-days", "2", "-subj", "/CN=nbd-netty docs CA", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        leaf("server", "serverAuth");
        leaf("client", "clientAuth");
    }

    private static void leaf(String name, String usage) throws Exception {
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + "-key.pem", "-out", name + ".csr",
                "-subj", "/CN=localhost");
        Files.writeString(certificateDir.resolve(name + ".ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                + "extendedKeyUsage=" + usage + "\nkeyUsage=digitalSignature,keyEncipherment\n");
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
                "-CAcreateserial", "-out", name + "-cert.pem", "-days", "2", "-extfile", name + ".ext");
    }

    private static void openssl(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(certificateDir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("openssl " + String.join(" ", args) + " failed:\n" + out);
        }
    }

    private static PeerServer tlsServer(String... extra) {
        List<String> args = new ArrayList<>(List.of("--tls=require", "--tls-certificates=" + certificateDir));
        args.addAll(List.of(extra));
        return PeerServer.nbdkit("memory", "size=1M").args(args.toArray(String[]::new)).start();
    }

    @Test
    void certificateDirectory() throws Exception {
        // The server checks client certificates too: ours must present client-cert.pem.
        try (PeerServer server = tlsServer("--tls-verify-peer")) {
            Path socketPath = server.socketPath();
            // tag::certificates[]
            NbdClientConfig config = NbdClientConfig.builder()
                    .tls(NbdTlsMode.REQUIRE)              // no plain-text fallback
                    .tlsCertificates(certificateDir)      // ca-cert.pem, client-cert.pem, client-key.pem
                    .tlsHostname("localhost")             // the name the server's certificate must carry
                    .build();
            try (NbdHandle handle = NbdHandle.create(config)) {
                NbdConnection conn = handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(socketPath))).get();
                System.out.println("TLS " + handle.tlsNegotiated() + ", " + conn.replyStyle());
                conn.disconnect().get();
            }
            // end::certificates[]
        }
    }

    @Test
    void nbdsUri() throws Exception {
        try (PeerServer server = tlsServer()) {
            Path socketPath = server.socketPath();
            // tag::nbds[]
            NbdUri uri = NbdUri.parse("nbds+unix:///?socket=" + socketPath
                    + "&tls-certificates=" + certificateDir + "&tls-hostname=localhost");
            try (NbdHandle handle = NbdHandle.create()) {
                NbdConnection conn = handle.connect(uri).get();  // nbds: TLS is required
                System.out.println("TLS " + handle.tlsNegotiated());
                conn.disconnect().get();
            }
            // end::nbds[]
        }
    }

    @Test
    void ownSslContext() throws Exception {
        try (PeerServer server = tlsServer()) {
            Path socketPath = server.socketPath();
            // tag::sslContext[]
            SslContext context = SslContextBuilder.forClient()
                    .trustManager(certificateDir.resolve("ca-cert.pem").toFile())
                    .protocols("TLSv1.3")
                    .build();
            NbdClientConfig config = NbdClientConfig.builder()
                    .tls(NbdTlsMode.REQUIRE)
                    .sslContext(context)                  // used as it is; tlsCertificates is then ignored
                    .tlsHostname("localhost")             // still checked against the certificate
                    .build();
            try (NbdHandle handle = NbdHandle.create(config)) {
                NbdConnection conn = handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(socketPath))).get();
                conn.disconnect().get();
            }
            // end::sslContext[]
        }
    }

    @Test
    void ownSslContextWithoutAHostNameNeedsNoEndpointIdentification() throws Exception {
        // What docs/tls.md says about a caller's context on a Unix socket with no host name to check, with the JDK's
        // engine (forClient() picks BoringSSL where netty-tcnative loads, as it does on this class path).
        try (PeerServer server = tlsServer()) {
            SslContext context = SslContextBuilder.forClient().sslProvider(io.netty.handler.ssl.SslProvider.JDK)
                    .trustManager(certificateDir.resolve("ca-cert.pem").toFile()).build();
            try (NbdHandle handle = NbdHandle.create(NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE)
                    .sslContext(context).build())) {
                java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
                        java.util.concurrent.ExecutionException.class, () -> handle.connect(SocketChannel.open(
                                UnixDomainSocketAddress.of(server.socketPath()))).get());
                org.junit.jupiter.api.Assertions.assertTrue(e.getCause().getMessage()
                        .contains("Hostname or IP address is undefined"), e.getCause().getMessage());
            }
            SslContext noHostCheck = SslContextBuilder.forClient().endpointIdentificationAlgorithm(null)
                    .trustManager(certificateDir.resolve("ca-cert.pem").toFile()).build();
            try (NbdHandle handle = NbdHandle.create(NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE)
                    .sslContext(noHostCheck).build())) {
                handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(server.socketPath()))).get()
                        .disconnect().get();
            }
        }
    }

    @Test
    void startTlsInOptMode() throws Exception {
        try (PeerServer server = tlsServer()) {
            Path socketPath = server.socketPath();
            // tag::starttls[]
            NbdClientConfig config = NbdClientConfig.builder()
                    .optMode(true)
                    .tlsCertificates(certificateDir)      // tls stays DISABLE: nothing automatic
                    .build();
            try (NbdHandle handle = NbdHandle.create(config)) {
                handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(socketPath)));
                handle.negotiatingFuture().get();
                boolean encrypted = handle.optStartTls().get();     // false if the server refuses
                handle.optStructuredReply().get();                  // forgotten by STARTTLS: ask again
                NbdConnection conn = handle.optGo().get();
                System.out.println("TLS " + encrypted + ", " + conn.replyStyle());
                conn.disconnect().get();
            }
            // end::starttls[]
        }
    }
}
