package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdTlsMode;
import io.nbdnetty.testing.peers.TlsCertificates;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The TLS contexts built from a certificate directory are kept and shared by the connections that follow with the same
 * engine, directory and peer check, and built again once one of the files changes (certificates replaced on disk are
 * read by the next connection, as libnbd reads them for each).
 */
class NbdTlsContextCacheTest {
    @TempDir
    Path dir;

    @AfterEach
    void forget() {
        NbdTls.clearCache();
    }

    private NbdClientConfig config(Path certs, SslProvider provider, boolean verify) {
        return NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE).tlsCertificates(certs).tlsProvider(provider)
                .tlsVerifyPeer(verify).build();
    }

    @Test
    void connectionsWithTheSameSettingsShareOneContext() throws Exception {
        TlsCertificates.create(dir);
        SslContext first = NbdTls.context(config(dir, SslProvider.JDK, true));
        assertSame(first, NbdTls.context(config(dir, SslProvider.JDK, true)), "a second config, equal settings");
        assertSame(first, NbdTls.context(config(dir.resolve(".").resolve("x").resolve(".."), SslProvider.JDK, true)),
                "the same directory by another path");
        assertNotSame(first, NbdTls.context(config(dir, SslProvider.JDK, false)), "without the peer check");
        if (OpenSsl.isAvailable()) {
            assertNotSame(first, NbdTls.context(config(dir, SslProvider.OPENSSL, true)), "another engine");
        }
        assertSame(first, NbdTls.context(config(dir, SslProvider.JDK, true)), "kept beside the others");
    }

    @Test
    void aReplacedFileIsReadAgain() throws Exception {
        TlsCertificates.create(dir);
        NbdClientConfig c = config(dir, SslProvider.JDK, true);
        SslContext first = NbdTls.context(c);
        Path cert = dir.resolve("client-cert.pem");
        Files.setLastModifiedTime(cert, FileTime.fromMillis(Files.getLastModifiedTime(cert).toMillis() + 2000));
        SslContext second = NbdTls.context(c);
        assertNotSame(first, second, "the client certificate's time changed");
        assertSame(second, NbdTls.context(c), "and is kept again from then on");
        Files.delete(dir.resolve("client-key.pem"));
        assertNotSame(second, NbdTls.context(c), "the key is gone: a context without a client certificate");
    }

    @Test
    void theCallersOwnContextIsUsedAsItIs() throws Exception {
        TlsCertificates.create(dir);
        SslContext own = NbdTls.context(config(dir, SslProvider.JDK, true));
        NbdTls.clearCache();
        NbdClientConfig c = NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE).sslContext(own).build();
        assertSame(own, NbdTls.context(c));
    }

    @Test
    void noMoreThanTheLimitIsKept() throws Exception {
        assumeTrue(NbdTls.CACHED_CONTEXTS < 64);
        TlsCertificates.create(dir);
        SslContext first = NbdTls.context(config(dir, SslProvider.JDK, true));
        for (int i = 0; i < NbdTls.CACHED_CONTEXTS; i++) {
            Path other = Files.createDirectory(dir.resolve("empty-" + i));
            NbdTls.context(config(other, SslProvider.JDK, true));
        }
        assertNotSame(first, NbdTls.context(config(dir, SslProvider.JDK, true)), "the oldest was dropped");
    }
}
