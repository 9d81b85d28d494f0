package io.nbdnetty.client;

import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdOptionReplyType;
import io.netty.channel.unix.Errors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Failures in plain words: dials that never connect are {@link NbdConnectException} with the OS reason, a reset
 * connection says so, and {@link NbdErrors#inWords} turns the JDK's and Netty's exceptions into the operating
 * system's words.
 */
class NbdErrorsTest {
    private static final Pattern JAVA_LIKE =
            Pattern.compile("Exception|java\\.|javax\\.|sun\\.|io\\.netty|error\\(-|PT\\d");

    @TempDir
    Path dir;

    private static Throwable connectFailure(
            java.util.function.Function<NbdHandle, java.util.concurrent.CompletableFuture<?>> dial) {
        try (NbdHandle h = NbdHandle.create()) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> dial.apply(h).get(30, TimeUnit.SECONDS));
            assertEquals(NbdState.DEAD, h.state());
            assertFalse(JAVA_LIKE.matcher(e.getCause().getMessage()).find(), e.getCause().getMessage());
            return e.getCause();
        }
    }

    @Test
    void aMissingSocketIsACannotConnect() {
        Path sock = dir.resolve("none.sock");
        Throwable t = connectFailure(h -> h.connectUnix(sock));
        assertInstanceOf(NbdConnectException.class, t);
        assertEquals("cannot connect to " + sock + ": No such file or directory", t.getMessage());
    }

    @Test
    void aRefusedPortIsACannotConnect() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Throwable t = connectFailure(h -> h.connectTcp("127.0.0.1", port));
        assertInstanceOf(NbdConnectException.class, t);
        assertEquals("cannot connect to 127.0.0.1:" + port + ": Connection refused", t.getMessage());
    }

    @Test
    void aResetConnectionIsNotACannotConnect() throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                try (Socket s = ss.accept()) {
                    // Half a greeting, so the client has surely connected, then a reset.
                    s.getOutputStream().write("NBDMAGIC".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                    s.getOutputStream().flush();
                    Thread.sleep(300);
                    s.setSoLinger(true, 0);
                } catch (IOException | InterruptedException e) {
                    // the test fails on its own if nothing connected
                }
            });
            t.start();
            Throwable e = connectFailure(h -> h.connectTcp("127.0.0.1", ss.getLocalPort()));
            t.join();
            assertInstanceOf(NbdConnectionClosedException.class, e);
            assertFalse(e instanceof NbdConnectException, e.toString());
            assertTrue(e.getMessage().contains("Connection reset by peer")
                    || e.getMessage().contains("closed the connection during the handshake"), e.getMessage());
            assertTrue(e.getMessage().contains(" with 127.0.0.1:" + ss.getLocalPort()), "names the server: "
                    + e.getMessage());
            assertFalse(e.getMessage().contains("client certificate"), "no TLS here: " + e.getMessage());
        }
    }

    @Test
    void theOperatingSystemsWords() {
        // Netty's own exceptions, as its native transports raise them.
        assertEquals("Connection reset by peer", NbdErrors.inWords(Errors.newIOException("recvAddress", -104)));
        assertEquals("Address already in use", NbdErrors.inWords(Errors.newIOException("bind", -98)));
        assertEquals("Too many open files", NbdErrors.inWords(
                new io.netty.channel.ChannelException("epoll_create1() failed: Too many open files")));
        assertEquals("No such file or directory", NbdErrors.inWords(new FileNotFoundException()));
        assertEquals("No such file or directory", NbdErrors.inWords(new NoSuchFileException("/x")));
        assertEquals("Permission denied", NbdErrors.inWords(new AccessDeniedException("/x")));
        assertEquals("Permission denied", NbdErrors.inWords(new FileNotFoundException("/x (Permission denied)")));
        assertEquals("Connection refused", NbdErrors.inWords(new java.net.ConnectException()));
        assertEquals("connection timed out after 30 s", NbdErrors.inWords(
                new IOException("connection timed out after 30000 ms: /10.0.0.1:10809")));
        assertEquals("no reply within 30 s", NbdErrors.inWords(new IOException("no reply within PT30S")));
        assertEquals("the connection was closed",
                NbdErrors.inWords(new java.nio.channels.ClosedChannelException()));
        // Our own messages pass through as they are.
        assertEquals("server refused NBD_OPT_GO", NbdErrors.inWords(new NbdException("server refused NBD_OPT_GO")));
        // TLS: the JDK's certificate path failure, explained.
        javax.net.ssl.SSLHandshakeException pkix =
                new javax.net.ssl.SSLHandshakeException("PKIX path building failed");
        pkix.initCause(new java.security.cert.CertPathBuilderException("unable to find valid certification path"));
        assertTrue(NbdErrors.inWords(pkix).startsWith("the server's certificate is not trusted"));
        assertTrue(NbdErrors.inWords(new javax.net.ssl.SSLException("Received fatal alert: certificate_required"))
                .startsWith("the server requires a client certificate"));
    }

    @Test
    void aRefusedOptionSaysWhatTheErrorMeans() {
        assertEquals("server refused NBD_OPT_GO with NBD_REP_ERR_UNKNOWN (the export is not available)",
                new NbdOptionException(NbdOption.GO, NbdOptionReplyType.ERR_UNKNOWN, "").getMessage());
        assertEquals("server refused NBD_OPT_LIST with NBD_REP_ERR_POLICY (the server's policy forbids it): "
                        + "listing is off",
                new NbdOptionException(NbdOption.LIST,
                        NbdOptionReplyType.ERR_POLICY, "listing is off").getMessage());
        // Every error reply of the spec has its words; one the spec does not define has none, only its number.
        for (int code = 0x80000001; code <= 0x8000000a; code++) {
            String m = new NbdOptionException(NbdOption.GO,
                    NbdOptionReplyType.valueOf(code), "").getMessage();
            assertTrue(m.endsWith(")") && m.contains(" ("), m);
        }
        assertEquals("server refused NBD_OPT_GO with NBD_REP_ERR_UNKNOWN_TYPE(0x8000007f)",
                new NbdOptionException(NbdOption.GO,
                        NbdOptionReplyType.valueOf(0x8000007f), "").getMessage());
    }
}
