package io.nbdnetty.testing.peers;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * X.509 certificates for TLS interop tests, made by {@code openssl} in nbdkit's and libnbd's directory layout: a CA
 * ({@code ca-cert.pem}), a server certificate and key ({@code server-cert.pem}, {@code server-key.pem}) and a client
 * certificate and key ({@code client-cert.pem}, {@code client-key.pem}, PKCS#8), both leaves for {@code localhost}
 * and {@code 127.0.0.1}, valid for two days.
 */
public final class TlsCertificates {
    private TlsCertificates() {
    }

    /**
     * Makes the certificates in a directory (skips or fails the test, as {@link Interop} decides, without openssl).
     *
     * @param dir an existing, empty directory
     * @return {@code dir}
     * @throws Exception if openssl fails
     */
    public static Path create(Path dir) throws Exception {
        Interop.requireCommand("openssl");
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
                "-days", "2", "-subj", "/CN=nbd-netty test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        leaf(dir, "server", "serverAuth");
        leaf(dir, "client", "clientAuth");
        return dir;
    }

    private static void leaf(Path dir, String name, String usage) throws Exception {
        openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + "-key.pem", "-out", name + ".csr",
                "-subj", "/CN=localhost");
        Files.writeString(dir.resolve(name + ".ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                + "extendedKeyUsage=" + usage + "\nkeyUsage=digitalSignature,keyEncipherment\n");
        openssl(dir, "x509", "-req", "-in", name + ".csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
                "-CAcreateserial", "-out", name + "-cert.pem", "-days", "2", "-extfile", name + ".ext");
    }

    private static void openssl(Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("openssl " + String.join(" ", args) + " failed:\n" + out);
        }
    }
}
