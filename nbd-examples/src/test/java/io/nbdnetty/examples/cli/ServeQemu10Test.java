package io.nbdnetty.examples.cli;

import io.nbdnetty.testing.peers.PeerClients;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code nbd serve} itself (a child JVM) with qemu-io 10 as the client, through a relay that records both
 * directions: the wire shows extended headers negotiated (the server acknowledges NBD_OPT_EXTENDED_HEADERS and every
 * request has the extended magic), and qemu-io's write, write zeroes, discard and read-back all succeed.
 */
class ServeQemu10Test {
    private static final byte[] EXTENDED_REQUEST_MAGIC = {0x21, (byte) 0xe4, 0x1c, 0x71};

    @TempDir
    Path dir;

    /** Relays one connection from {@code listen} to {@code target}, keeping what each side sent. */
    private static final class Relay implements AutoCloseable {
        final ByteArrayOutputStream fromClient = new ByteArrayOutputStream();
        final ByteArrayOutputStream fromServer = new ByteArrayOutputStream();
        private final ServerSocketChannel server;
        private final Thread thread;

        Relay(Path listen, Path target) throws IOException {
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(listen));
            thread = new Thread(() -> {
                try (SocketChannel c = server.accept();
                     SocketChannel s = SocketChannel.open(UnixDomainSocketAddress.of(target))) {
                    Thread up = new Thread(() -> pump(c, s, fromClient), "relay-up");
                    up.start();
                    pump(s, c, fromServer);
                    up.join(30_000);
                } catch (IOException | InterruptedException e) {
                    // the test sees what was recorded
                }
            }, "relay");
            thread.setDaemon(true);
            thread.start();
        }

        private static void pump(SocketChannel from, SocketChannel to, ByteArrayOutputStream record) {
            ByteBuffer b = ByteBuffer.allocate(64 << 10);
            try {
                while (from.read(b) >= 0) {
                    b.flip();
                    synchronized (record) {
                        record.write(b.array(), 0, b.limit());
                    }
                    while (b.hasRemaining()) {
                        to.write(b);
                    }
                    b.clear();
                }
                to.shutdownOutput();
            } catch (IOException e) {
                // one side went away
            }
        }

        byte[] client() {
            synchronized (fromClient) {
                return fromClient.toByteArray();
            }
        }

        byte[] server() {
            synchronized (fromServer) {
                return fromServer.toByteArray();
            }
        }

        @Override
        public void close() throws Exception {
            server.close();
            thread.join(30_000);
        }
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void qemuIo10AgainstNbdServeNegotiatesExtendedHeaders() throws Exception {
        Path socket = dir.resolve("s.sock");
        Path relaySocket = dir.resolve("r.sock");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), NbdCli.class.getName(),
                "serve", "--unix", socket.toString(), "--size", "1M")
                .redirectError(dir.resolve("stderr.txt").toFile()).start();
        try (Relay relay = new Relay(relaySocket, socket)) {
            String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
            assertNotNull(line, "nbd serve printed nothing; stderr: " + Files.readString(dir.resolve("stderr.txt")));
            PeerClients.Result r = PeerClients.qemu10("qemu-io", "-f", "raw",
                    "-c", "write -P 0x5a 0 64k", "-c", "write -z 64k 64k", "-c", "discard 128k 64k",
                    "-c", "read -P 0x5a 0 64k", "-c", "read -P 0 64k 64k",
                    "nbd+unix:///?socket=" + relaySocket).assertSuccess();
            assertFalse((r.stdout() + r.stderr()).contains("failed"), r.toString());
            relay.close();

            byte[] c = relay.client();
            byte[] s = relay.server();
            // Client: flags (4 bytes), then its first option is NBD_OPT_EXTENDED_HEADERS (11), no data.
            assertEquals(11, ByteBuffer.wrap(c, 12, 4).getInt(), "qemu 10 asks for extended headers first");
            // Server: greeting (18 bytes), then the option reply: magic, option 11, NBD_REP_ACK (1), length 0.
            ByteBuffer reply = ByteBuffer.wrap(s, 18, 20);
            assertEquals(0x3e889045565a9L, reply.getLong());
            assertEquals(11, reply.getInt());
            assertEquals(1, reply.getInt(), "nbd serve acknowledges NBD_OPT_EXTENDED_HEADERS");
            // Requests: the first one after the handshake and every later one use the extended request magic; the
            // WRITE (qemu 10 sets no NBD_CMD_FLAG_PAYLOAD_LEN) carries 64 KiB, the rest nothing.
            int at = indexOf(c, EXTENDED_REQUEST_MAGIC, 16);
            assertTrue(at > 0, "no extended request on the wire");
            int requests = 0;
            while (at < c.length) {
                ByteBuffer h = ByteBuffer.wrap(c, at, 32);
                assertEquals(0x21e41c71, h.getInt(), "request " + requests + " at " + at);
                int flags = h.getShort() & 0xffff;
                int type = h.getShort() & 0xffff;
                h.getLong();
                h.getLong();
                long length = h.getLong();
                at += 32 + (type == 1 ? (int) length : 0);
                if (type == 1) {
                    assertEquals(0, flags & (1 << 5), "qemu 10's WRITE has no NBD_CMD_FLAG_PAYLOAD_LEN");
                    assertEquals(64 << 10, length);
                }
                requests++;
            }
            assertEquals(c.length, at, "the requests end where the client's bytes end");
            assertTrue(requests >= 6, "write, zeroes, discard, two reads, disconnect: " + requests);
        } finally {
            p.destroy();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }
}
