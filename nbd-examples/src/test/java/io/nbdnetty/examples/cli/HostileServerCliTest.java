package io.nbdnetty.examples.cli;

import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import org.junit.jupiter.api.Test;

import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static io.nbdnetty.examples.cli.CliRun.nbd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CLI against servers that flood or stall (docs/LIMITS.md): block status with 2^20 extents or extents past the
 * end of the export, a server that stops answering, and error messages longer than the protocol's 4,096 bytes. The
 * servers are scripted here (raw bytes on a Unix socket, as proto.md lays them out) since no real server can be made
 * to misbehave this way; nbdinfo is run against the same scripts where it helps.
 */
class HostileServerCliTest {
    private static final int SIZE = 1 << 20;

    /** What the scripted server does with one transmission request. */
    @FunctionalInterface
    interface Answer {
        void answer(SocketChannel ch, int type, long cookie, long offset, long length) throws Exception;
    }

    /**
     * A fixed-newstyle server of one export of {@link #SIZE} bytes that grants structured replies and
     * base:allocation (context id 1), refuses other options, and answers requests with an {@link Answer}; it serves
     * connections one after another until closed.
     */
    static final class Scripted implements AutoCloseable {
        final Path dir;
        final Path socket;
        private final ServerSocketChannel server;
        private final Thread thread;

        Scripted(Answer answer) throws IOException {
            dir = Files.createTempDirectory(Path.of("/tmp"), "nbd-hostile-cli-");
            socket = dir.resolve("s.sock");
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
            thread = new Thread(() -> {
                while (server.isOpen()) {
                    try (SocketChannel ch = server.accept()) {
                        serve(ch, answer);
                    } catch (Exception e) {
                        // the client went away, or the server was closed
                    }
                }
            }, "hostile-cli-server");
            thread.setDaemon(true);
            thread.start();
        }

        String uri() {
            return "nbd+unix:///?socket=" + socket;
        }

        private static void serve(SocketChannel ch, Answer answer) throws Exception {
            write(ch, ByteBuffer.allocate(18).putLong(0x4e42444d41474943L).putLong(0x49484156454f5054L)
                    .putShort((short) 3).flip()); // FIXED_NEWSTYLE | NO_ZEROES
            read(ch, 4);
            boolean structured = false;
            while (true) {
                ByteBuffer h = read(ch, 16);
                h.getLong();
                int opt = h.getInt();
                read(ch, h.getInt());
                if (opt == 8) { // STRUCTURED_REPLY
                    structured = true;
                    optReply(ch, opt, 1, new byte[0]);
                } else if ((opt == 10 || opt == 9) && structured) { // SET/LIST_META_CONTEXT
                    byte[] name = "base:allocation".getBytes(StandardCharsets.US_ASCII);
                    optReply(ch, opt, 4, ByteBuffer.allocate(4 + name.length).putInt(1).put(name).array());
                    optReply(ch, opt, 1, new byte[0]);
                } else if (opt == 7 || opt == 6) { // GO, INFO
                    optReply(ch, opt, 3, ByteBuffer.allocate(12).putShort((short) 0).putLong(SIZE)
                            .putShort((short) (1 | 4)).array()); // HAS_FLAGS | SEND_FLUSH
                    optReply(ch, opt, 1, new byte[0]);
                    if (opt == 7) {
                        break;
                    }
                } else {
                    optReply(ch, opt, (1 << 31) + 1, new byte[0]); // ERR_UNSUP
                }
            }
            while (true) {
                ByteBuffer r = read(ch, 28);
                r.getInt();
                r.getShort();
                int type = Short.toUnsignedInt(r.getShort());
                long cookie = r.getLong();
                long offset = r.getLong();
                long length = Integer.toUnsignedLong(r.getInt());
                if (type == 2) { // DISC
                    return;
                }
                answer.answer(ch, type, cookie, offset, length);
            }
        }

        private static void optReply(SocketChannel ch, int opt, int type, byte[] data) throws IOException {
            write(ch, ByteBuffer.allocate(20 + data.length).putLong(0x3e889045565a9L).putInt(opt).putInt(type)
                    .putInt(data.length).put(data).flip());
        }

        static void write(SocketChannel ch, ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }

        static ByteBuffer read(SocketChannel ch, int n) throws IOException {
            ByteBuffer b = ByteBuffer.allocate(n);
            while (b.hasRemaining()) {
                if (ch.read(b) < 0) {
                    throw new EOFException();
                }
            }
            return b.flip();
        }

        /** A structured BLOCK_STATUS chunk (DONE) for context 1 with the given length, status pairs. */
        static void blockStatus(SocketChannel ch, long cookie, long... pairs) throws IOException {
            ByteBuffer b = ByteBuffer.allocate(20 + 4 + 4 * pairs.length);
            b.putInt(0x668e33ef).putShort((short) 1).putShort((short) 5).putLong(cookie).putInt(4 + 4 * pairs.length)
                    .putInt(1);
            for (long v : pairs) {
                b.putInt((int) v);
            }
            write(ch, b.flip());
        }

        @Override
        public void close() throws IOException {
            server.close();
            thread.interrupt(); // a script asleep in a stall
            try {
                thread.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Files.deleteIfExists(socket);
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void aMapOfTwoToTheTwentyOneByteExtentsIsPrintedAsNbdinfoPrintsIt() throws Exception {
        try (Scripted s = new Scripted((ch, type, cookie, offset, length) -> {
            int n = (int) (SIZE - offset);
            long[] pairs = new long[2 * n];
            for (int i = 0; i < n; i++) {
                pairs[2 * i] = 1;
                pairs[2 * i + 1] = (i & 1) * 3;
            }
            Scripted.blockStatus(ch, cookie, pairs);
        })) {
            CliRun.Run ours = nbd("info", "--map", s.uri()).ok();
            String[] lines = ours.out().split("\n");
            assertEquals(SIZE, lines.length);
            assertEquals("   1048575           1    3  hole,zero", lines[SIZE - 1]);
            PeerClients.Result theirs = PeerClients.nbdinfo("--map", s.uri());
            if (theirs.exitCode() == 0) {
                assertEquals(theirs.stdout(), ours.out());
            }
        }
    }

    @Test
    void extentsPastTheEndOfTheExportAreNotPrinted() throws Exception {
        // 512 KiB of data, then a hole|zero extent that claims 2 MiB: 1.5 MiB past the end of the export.
        try (Scripted s = new Scripted((ch, type, cookie, offset, length) ->
                Scripted.blockStatus(ch, cookie, 512 * 1024, 0, 2 * SIZE, 3))) {
            assertEquals("         0      524288    0  data\n    524288      524288    3  hole,zero\n",
                    nbd("info", "--map", s.uri()).ok().out());
            assertEquals("    524288  50.0%   0 data\n    524288  50.0%   3 hole,zero\n",
                    nbd("info", "--map", "--totals", s.uri()).ok().out());
        }
    }

    @Test
    void aCopyNeverReadsPastTheEndOfTheExportWhateverTheExtentsSay() throws Exception {
        long[] furthest = {0};
        byte[] data = new byte[SIZE];
        new java.util.Random(17).nextBytes(data);
        try (Scripted s = new Scripted((ch, type, cookie, offset, length) -> {
            if (type == 7) { // BLOCK_STATUS: 512 KiB of data, then hole|zero claimed to run 1.5 MiB past the end
                long dataEnd = 512 * 1024;
                if (offset < dataEnd) {
                    Scripted.blockStatus(ch, cookie, dataEnd - offset, 0, 2 * SIZE, 3);
                } else {
                    Scripted.blockStatus(ch, cookie, 2 * SIZE, 3);
                }
            } else if (type == 0) { // READ: one OFFSET_DATA chunk (DONE)
                synchronized (furthest) {
                    furthest[0] = Math.max(furthest[0], offset + length);
                }
                ByteBuffer b = ByteBuffer.allocate(20 + 8 + (int) length);
                b.putInt(0x668e33ef).putShort((short) 1).putShort((short) 1).putLong(cookie)
                        .putInt(8 + (int) length).putLong(offset)
                        .put(data, (int) Math.min(offset, SIZE), (int) Math.max(0, Math.min(length, SIZE - offset)));
                Scripted.write(ch, b.position(b.capacity()).flip());
            } else { // FLUSH and the rest: NONE (DONE)
                Scripted.write(ch, ByteBuffer.allocate(20).putInt(0x668e33ef).putShort((short) 1)
                        .putShort((short) 0).putLong(cookie).putInt(0).flip());
            }
        })) {
            Path out = s.dir.resolve("copy.img");
            try {
                nbd("copy", "-C", "1", s.uri(), out.toString()).ok();
                assertEquals(SIZE, Files.size(out));
                byte[] copied = Files.readAllBytes(out);
                assertTrue(java.util.Arrays.equals(data, 0, 512 * 1024, copied, 0, 512 * 1024), "the data part");
                assertTrue(java.util.Arrays.mismatch(new byte[SIZE - 512 * 1024],
                        java.util.Arrays.copyOfRange(copied, 512 * 1024, SIZE)) < 0, "the zero part reads as zeroes");
                assertTrue(furthest[0] > 0 && furthest[0] <= SIZE, "read up to " + furthest[0]);
            } finally {
                Files.deleteIfExists(out);
            }
        }
    }

    @Test
    void aServerThatStopsAnsweringFailsAfterTimeout() throws Exception {
        try (Scripted s = new Scripted((ch, type, cookie, offset, length) -> {
            // Half a chunk header, then silence with the connection open.
            Scripted.write(ch, ByteBuffer.allocate(10).putInt(0x668e33ef).putShort((short) 1).putShort((short) 5)
                    .putShort((short) 0).flip());
            Thread.sleep(30_000);
        })) {
            long t0 = System.nanoTime();
            CliRun.Run r = nbd("info", "--map", "--timeout", "1", s.uri());
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.err().startsWith("nbd info: no reply from the server for 1 s"), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(ms < 15_000, "took " + ms + " ms");
        }
    }

    @Test
    void aServerThatNeverGreetsFailsAfterTheTimeoutToo() throws Exception {
        // Accepts and never sends its greeting: --timeout bounds the handshake as well as the replies.
        Path dir = Files.createTempDirectory("nbd-silent-");
        Path sock = dir.resolve("s.sock");
        try (ServerSocketChannel ss = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ss.bind(UnixDomainSocketAddress.of(sock));
            long t0 = System.nanoTime();
            CliRun.Run r = nbd("info", "--size", "--timeout", "1", "nbd+unix:///?socket=" + sock);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(1, r.code(), r.toString());
            assertEquals("nbd info: the handshake did not finish within 1 s", r.err().strip(), r.err());
            assertTrue(ms < 15_000, "took " + ms + " ms");
        } finally {
            Files.deleteIfExists(sock);
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void aRealServerThatDelaysLongerThanTheTimeoutFailsTheCopy() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("pattern", "size=1M").filter("delay", "rdelay=20").start()) {
            Path out = Files.createTempFile("nbd-timeout-", ".img");
            try {
                long t0 = System.nanoTime();
                CliRun.Run r = nbd("copy", "--timeout", "1", s.uri(), out.toString());
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertEquals(1, r.code(), r.toString());
                assertTrue(r.err().startsWith("nbd copy: ") && r.err().contains("no reply from the server for 1 s"),
                        r.err());
                assertTrue(ms < 15_000, "took " + ms + " ms");
            } finally {
                Files.deleteIfExists(out);
            }
        }
    }

    @Test
    void aHugeErrorMessageIsShownAtMost4096BytesLong() throws Exception {
        String huge = "y".repeat(65535);
        try (Scripted s = new Scripted((ch, type, cookie, offset, length) -> {
            // NBD_REPLY_TYPE_ERROR (2^15 + 1), DONE: EIO (5) and a 65,535-byte message.
            ByteBuffer b = ByteBuffer.allocate(20 + 6 + 65535);
            b.putInt(0x668e33ef).putShort((short) 1).putShort((short) 32769).putLong(cookie).putInt(6 + 65535)
                    .putInt(5).putShort((short) 65535).put(huge.getBytes(StandardCharsets.US_ASCII));
            Scripted.write(ch, b.flip());
        })) {
            CliRun.Run r = nbd("info", "--map", s.uri());
            assertEquals(1, r.code(), r.toString().substring(0, 200));
            String err = r.err().strip();
            assertEquals(1, err.lines().count());
            assertTrue(err.startsWith("nbd info: "), err.substring(0, 100));
            assertTrue(err.endsWith("y..."), err.substring(err.length() - 100));
            int ys = err.length() - err.replace("y", "").length();
            assertEquals(4093, ys, "the message is cut to 4,096 bytes with its \"...\"");
        }
    }
}
