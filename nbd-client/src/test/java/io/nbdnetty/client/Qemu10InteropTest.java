package io.nbdnetty.client;

import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.bytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client against qemu-nbd 10, the one independent server here that speaks extended headers: they are
 * negotiated, every command works in extended mode, block status beyond 4 GiB comes back with 64-bit offsets and
 * lengths, a dirty bitmap made by qemu 10's qemu-img is read, and the image qemu-nbd wrote is compared with the
 * expected bytes by {@code qemu-img compare}.
 */
class Qemu10InteropTest {
    private static final long GIB = 1L << 30;
    /** Larger than 4 GiB, so that offsets and extents need more than 32 bits. */
    private static final long SIZE = 6 * GIB;
    /** Where qemu-io writes before the export is served (and the dirty bitmap records it). */
    private static final long HIGH = 5 * GIB;
    private static final int HIGH_LENGTH = 1 << 20;
    private static final String BASE = "base:allocation";
    private static final String B0 = "qemu:dirty-bitmap:b0";

    @TempDir
    Path tmp;

    private static PeerClients.Result qemu10(String tool, String... args) {
        return PeerClients.qemu10(tool, args).assertSuccess();
    }

    /** A sparse 6 GiB qcow2 with bitmap b0, then 1 MiB of 0x5a written at 5 GiB (dirty in b0), all by qemu 10. */
    private Path image() {
        Path image = tmp.resolve("big.qcow2");
        qemu10("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        qemu10("qemu-img", "bitmap", "--add", image.toString(), "b0");
        qemu10("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a " + HIGH + " " + HIGH_LENGTH, image.toString());
        return image;
    }

    @Test
    void everyCommandWithExtendedHeadersAgainstQemuNbd10() throws Exception {
        Path image = image();
        // What the export should hold afterwards, written alongside into a sparse raw file.
        Path expected = tmp.resolve("expected.raw");
        try (RandomAccessFile f = new RandomAccessFile(expected.toFile(), "rw")) {
            f.setLength(SIZE);
            f.seek(HIGH);
            byte[] q = new byte[HIGH_LENGTH];
            java.util.Arrays.fill(q, (byte) 0x5a);
            f.write(q);
        }
        byte[] data = new byte[256 << 10];
        new Random(10).nextBytes(data);
        long writeAt = 4 * GIB + (64 << 10); // above 4 GiB: the offset needs all 64 bits of the header
        long zeroAt = 64 << 10;
        long trimAt = writeAt + (64 << 10);

        try (PeerServer server = PeerServer.qemuNbd10(image, "qcow2", "disk", "-B", "b0", "--discard=unmap");
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().exportName("disk").addMetaContext(BASE)
                     .addMetaContext(B0).build())) {
            NbdConnection c = await(h.connect(NbdUri.parse(server.uri())));
            assertEquals(NbdReplyStyle.EXTENDED, c.replyStyle(), "qemu-nbd 10 negotiates extended headers");
            assertEquals(SIZE, c.size());
            NbdExportInfo info = c.exportInfo();

            // WRITE (our client sets NBD_CMD_FLAG_PAYLOAD_LEN, as the draft requires), READ back, FUA write.
            await(c.write(writeAt, Unpooled.wrappedBuffer(data)));
            ByteBuf back = await(c.read(writeAt, data.length));
            assertArrayEquals(data, bytes(back));
            if (info.canFua()) {
                await(c.write(writeAt, Unpooled.wrappedBuffer(data, 0, 4096), NbdCommandFlags.FUA));
            }
            // WRITE_ZEROES with NO_HOLE, TRIM, FLUSH, and CACHE where offered.
            assertTrue(info.canZero() && info.canTrim() && info.canFlush(), info.toString());
            await(c.writeZeroes(zeroAt, 64 << 10, NbdCommandFlags.NO_HOLE));
            await(c.trim(trimAt, 64 << 10, 0));
            await(c.flush());
            if (info.canCache()) {
                await(c.cache(writeAt, data.length));
            }
            byte[] afterTrim = data.clone();
            java.util.Arrays.fill(afterTrim, 64 << 10, 128 << 10, (byte) 0);
            ByteBuf trimmed = await(c.read(writeAt, data.length));
            assertArrayEquals(afterTrim, bytes(trimmed), "a trimmed range of a qcow2 reads as zeros");
            try (RandomAccessFile f = new RandomAccessFile(expected.toFile(), "rw")) {
                f.seek(writeAt);
                f.write(afterTrim);
            }

            // BLOCK_STATUS over the whole 6 GiB: extents cover the range without gaps, at 64-bit offsets, and the
            // data qemu-io wrote at 5 GiB is allocated exactly there.
            NbdBlockStatus all = await(c.blockStatus(0, SIZE, 0));
            List<NbdExtent> base = all.extents(BASE);
            long at = 0;
            for (NbdExtent e : base) {
                assertEquals(at, e.offset(), "contiguous extents: " + base);
                at = e.end();
            }
            assertTrue(at > 0 && at <= SIZE, "extents end within the export: " + base);
            NbdBlockStatus high = await(c.blockStatus(HIGH - (1 << 20), 3L << 20, 0));
            List<NbdExtent> around = high.extents(BASE);
            assertTrue(around.stream().anyMatch(e -> e.offset() <= HIGH && e.end() >= HIGH + HIGH_LENGTH
                    && !e.isHole()), "allocated at 5 GiB: " + around);
            assertTrue(around.stream().anyMatch(e -> e.end() <= HIGH && e.isHole()),
                    "a hole below 5 GiB: " + around);

            // The dirty bitmap qemu-img 10 added: the 1 MiB qemu-io wrote at 5 GiB is dirty, the range below is not.
            List<NbdExtent> dirty = high.extents(B0);
            assertTrue(dirty.stream().anyMatch(e -> e.offset() <= HIGH && e.end() >= HIGH + HIGH_LENGTH
                    && (e.flags() & 1) != 0), "dirty at 5 GiB: " + dirty);
            assertTrue(dirty.stream().anyMatch(e -> e.end() <= HIGH && (e.flags() & 1) == 0),
                    "clean below 5 GiB: " + dirty);

            // Extended headers let a server describe more than 4 GiB in one extent, and qemu-nbd 10 does: nothing
            // is allocated below our write at 4 GiB + 64 KiB (the zeroes at 64 KiB are a zero cluster), so the first
            // extent is one hole longer than 2^32 - 1 bytes (NBD_REPLY_TYPE_BLOCK_STATUS_EXT).
            NbdExtent first = base.get(0);
            assertEquals(writeAt, first.length(), "one hole up to our write: " + base);
            assertTrue(first.length() > 0xffffffffL && first.isHole() && first.isZero(), first.toString());
            // Our own writes went through the bitmap too: the range we wrote above 4 GiB is dirty.
            assertTrue(all.extents(B0).stream().anyMatch(e -> e.offset() <= writeAt && e.end() >= writeAt
                    + data.length && (e.flags() & 1) != 0), "our write is dirty: " + all.extents(B0));
            await(c.disconnect());

            // qemu-img compare (qemu 10, -U: qemu-nbd still holds the image) against the expected bytes.
            PeerClients.Result cmp = PeerClients.qemu10("qemu-img", "compare", "-U", "-f", "qcow2", "-F", "raw",
                    image.toString(), expected.toString());
            assertEquals(0, cmp.exitCode(), cmp.toString());
        }
    }

    /**
     * NBD_CMD_FLAG_PAYLOAD_LEN is framing: the server takes {@code length} bytes after the header as payload. A
     * caller who passes it on a request that carries none would make the server swallow the next requests, so the
     * client refuses it whatever the strict mode; the connection carries on.
     */
    @Test
    void thePayloadFlagIsRefusedWhereNoPayloadFollows() throws Exception {
        Path image = tmp.resolve("small.qcow2");
        qemu10("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "1M");
        try (PeerServer server = PeerServer.qemuNbd10(image, "qcow2", "disk");
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().exportName("disk").strictMode(0)
                     .addMetaContext(BASE).build())) {
            NbdConnection c = await(h.connect(NbdUri.parse(server.uri())));
            assertEquals(NbdReplyStyle.EXTENDED, c.replyStyle());
            for (java.util.concurrent.CompletableFuture<?> f : List.of(
                    c.trim(0, 4096, NbdCommandFlags.PAYLOAD_LEN),
                    c.blockStatus(0, 4096, NbdCommandFlags.PAYLOAD_LEN),
                    c.read(0, 4096, NbdCommandFlags.PAYLOAD_LEN))) {
                NbdStrictModeException e = TestSupport.fails(NbdStrictModeException.class, f);
                assertTrue(e.getMessage().contains("does not take NBD_CMD_FLAG_PAYLOAD_LEN"), e.getMessage());
            }
            // On a WRITE it is what the client sends anyway, so it may be given.
            await(c.write(0, Unpooled.wrappedBuffer(new byte[4096]), NbdCommandFlags.PAYLOAD_LEN));
            assertEquals(4096, bytes(await(c.read(0, 4096))).length, "the connection carries on");
        }
    }

    @Test
    void thePayloadFlagIsRefusedWithoutExtendedHeaders() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").start();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().strictMode(0).build())) {
            NbdConnection c = await(h.connect(NbdUri.parse(server.uri())));
            assertEquals(NbdReplyStyle.STRUCTURED, c.replyStyle(), "nbdkit 1.32 has no extended headers");
            NbdStrictModeException e = TestSupport.fails(NbdStrictModeException.class,
                    c.write(0, Unpooled.wrappedBuffer(new byte[512]), NbdCommandFlags.PAYLOAD_LEN));
            assertTrue(e.getMessage().contains("exists only with extended headers"), e.getMessage());
            await(c.write(0, Unpooled.wrappedBuffer(new byte[512])));
        }
    }
}
