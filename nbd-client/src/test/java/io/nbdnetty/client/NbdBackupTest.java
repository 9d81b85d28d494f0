package io.nbdnetty.client;

import io.nbdnetty.client.backup.NbdBackup;
import io.nbdnetty.client.backup.NbdBackupTargetException;
import io.nbdnetty.client.stream.NbdStreams;
import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.fails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link NbdBackup}: full and incremental backups of a qcow2 with a dirty bitmap, served by qemu-nbd. */
class NbdBackupTest {
    private static final long SIZE = 16L << 20;
    private static final String BITMAP = "b0";
    private static final String BITMAP_CONTEXT = NbdMetaContext.QEMU_DIRTY_BITMAP_PREFIX + BITMAP;

    @TempDir
    Path dir;

    private static PeerServer serve(Path image) {
        return PeerServer.qemuNbd(image, "qcow2", "disk", "-B", BITMAP);
    }

    private static NbdHandle handle() {
        return NbdHandle.create(NbdClientConfig.builder().addMetaContext(NbdMetaContext.BASE_ALLOCATION)
                .addMetaContext(BITMAP_CONTEXT).build());
    }

    private static void assertSame(Path image, String other, String otherFormat) {
        PeerClients.qemuImg("compare", "-U", "-f", "qcow2", "-F", otherFormat, image.toString(), other)
                .assertSuccess();
    }

    private static long dirtyBytes(NbdConnection c) throws Exception {
        List<NbdExtent> extents = await(FlowTesting.collect(NbdStreams.extents(c, BITMAP_CONTEXT, 0, c.size())));
        return extents.stream().filter(e -> (e.flags() & 1) != 0).mapToLong(NbdExtent::length).sum();
    }

    @Test
    void fullThenIncrementalBackupToAFileAndToAnNbdExport() throws Exception {
        Path image = PeerServer.createQcow2WithDirtyBitmap(dir.resolve("disk.qcow2"), SIZE, BITMAP);
        Path copy = dir.resolve("copy.raw");
        try (PeerServer target = PeerServer.nbdkit("memory", "size=" + SIZE).start();
             NbdHandle th = NbdHandle.create()) {
            NbdConnection t = await(th.connect(UnixSockets.connect(target.socketPath())));
            // Junk on the NBD target where the source has holes: a full backup must zero it.
            await(t.write(8L << 20, io.netty.buffer.Unpooled.wrappedBuffer(new byte[65536]).setByte(7, 9)));

            try (PeerServer source = serve(image); NbdHandle h = handle()) {
                NbdConnection c = await(h.connect(NbdUri.parse(source.uri())));
                NbdBackup full = NbdBackup.builder(c).bitmap(BITMAP).maxInFlightBytes(1 << 20).build();
                NbdBackup.Result r = await(full.toFile(copy));
                assertEquals(SIZE, Files.size(copy));
                assertEquals(SIZE, r.scannedBytes());
                assertTrue(r.bytesCopied() >= PeerServer.QCOW2_DIRTY_LENGTH && r.bytesCopied() < SIZE / 2,
                        "only the data extents are copied: " + r);
                assertEquals(SIZE, r.bytesCopied() + r.bytesSkipped(), "the rest stays a hole: " + r);
                assertSame(image, copy.toString(), "raw");
                long blocks = Long.parseLong(PeerClients.run(java.time.Duration.ofSeconds(10), "stat", "-c", "%b",
                        copy.toString()).assertSuccess().stdout().trim());
                assertTrue(blocks * 512 < SIZE / 2, "the copy is sparse: " + blocks + " blocks");

                NbdBackup.Result toNbd = await(full.toDevice(t));
                assertEquals(r.bytesCopied(), toNbd.bytesCopied());
                assertEquals(SIZE - r.bytesCopied(), toNbd.bytesZeroed());
                assertSame(image, target.uri(), "raw");
            }

            // Offline change with qemu-io: dirties b0 at 3M+128k.
            PeerClients.qemuIo("-f", "qcow2", "-c", "write -P 0xcd 3M 128k", image.toString()).assertSuccess();

            try (PeerServer source = serve(image); NbdHandle h = handle()) {
                NbdConnection c = await(h.connect(NbdUri.parse(source.uri())));
                assertTrue(c.canMetaContext(BITMAP_CONTEXT));
                long dirty = dirtyBytes(c);
                NbdBackup inc = NbdBackup.builder(c).bitmap(BITMAP).incremental(true).chunkSize(48 * 1024).build();
                NbdBackup.Result r = await(inc.toFile(copy));
                assertTrue(r.bytesCopied() > 0 && r.bytesCopied() <= dirty, "copied " + r.bytesCopied()
                        + " of " + dirty + " dirty bytes: " + r);
                assertTrue(r.bytesCopied() >= 128 * 1024, "the new write was copied: " + r);
                assertEquals(dirty, r.scannedBytes());
                assertSame(image, copy.toString(), "raw");

                NbdBackup.Result toNbd = await(inc.toDevice(t));
                assertEquals(r.bytesCopied(), toNbd.bytesCopied());
                assertSame(image, target.uri(), "raw");
            }
        }
    }

    /** A file's bytes and modification time, to show a refused backup left it alone. */
    private record Snapshot(byte[] bytes, java.nio.file.attribute.FileTime modified) {
        static Snapshot of(Path p) throws Exception {
            return new Snapshot(Files.readAllBytes(p), Files.getLastModifiedTime(p));
        }

        void assertUnchanged(Path p) throws Exception {
            assertArrayEquals(bytes, Files.readAllBytes(p), p + " was changed");
            assertEquals(modified, Files.getLastModifiedTime(p), p + " was written");
        }
    }

    private static NbdBackup incremental(NbdConnection c, String bitmap, String sourceId) {
        NbdBackup.Builder b = NbdBackup.builder(c).bitmap(bitmap).incremental(true);
        if (sourceId != null) {
            b.sourceId(sourceId);
        }
        return b.build();
    }

    private static String refused(CompletableFuture<?> f) {
        return fails(NbdBackupTargetException.class, f).getMessage();
    }

    @Test
    void incrementalOntoATargetThatIsNotThePreviousBackupIsRefusedAndLeftAlone() throws Exception {
        Path diskA = PeerServer.createQcow2WithDirtyBitmap(dir.resolve("a.qcow2"), SIZE, BITMAP);
        Path diskB = PeerServer.createQcow2WithDirtyBitmap(dir.resolve("b.qcow2"), SIZE, BITMAP);
        PeerClients.qemuIo("-f", "qcow2", "-c", "write -P 0x42 5M 64k", diskB.toString()).assertSuccess();
        Path copyA = dir.resolve("a.raw");
        Path copyB = dir.resolve("b.raw");
        try (PeerServer b = serve(diskB); NbdHandle h = handle()) {
            NbdConnection c = await(h.connect(NbdUri.parse(b.uri())));
            await(NbdBackup.builder(c).bitmap(BITMAP).sourceId("disk-b").build().toFile(copyB));
        }
        PeerClients.qemuIo("-f", "qcow2", "-c", "write -P 0xcd 3M 128k", diskA.toString()).assertSuccess();
        try (PeerServer a = serve(diskA); PeerServer other = PeerServer.nbdkit("memory", "size=" + (SIZE * 2))
                .start(); NbdHandle h = handle(); NbdHandle oh = NbdHandle.create()) {
            NbdConnection c = await(h.connect(NbdUri.parse(a.uri())));
            NbdBackup.Result full = await(NbdBackup.builder(c).bitmap(BITMAP).sourceId("disk-a").build()
                    .toFile(copyA));
            assertSame(diskA, copyA.toString(), "raw");
            Path record = NbdBackup.recordPath(copyA);
            assertEquals(dir.resolve("a.raw.nbd-backup"), record);
            String recorded = Files.readString(record);
            assertTrue(recorded.contains("\nsize=" + SIZE + "\n") && recorded.contains("\nbitmap=b0\n")
                    && recorded.contains("\nsource=disk-a\n"), recorded);
            NbdBackup inc = incremental(c, BITMAP, "disk-a");

            // 1. Nothing there: refused, and nothing created (before the fix: a file holding only the dirty ranges).
            Path nothere = dir.resolve("nothere.img");
            assertTrue(refused(inc.toFile(nothere)).startsWith(nothere + " does not exist: an incremental backup "
                    + "goes onto the previous full backup of the same disk"));
            assertFalse(Files.exists(nothere));
            assertFalse(Files.exists(NbdBackup.recordPath(nothere)));

            // 2. Not a regular file.
            Path directory = Files.createDirectory(dir.resolve("adir"));
            assertTrue(refused(inc.toFile(directory)).contains(" is not a regular file"));

            // 3. Another size, with a record that fits otherwise.
            Path shorter = dir.resolve("shorter.raw");
            Files.write(shorter, new byte[4096]);
            Files.copy(record, NbdBackup.recordPath(shorter));
            Snapshot shorterBefore = Snapshot.of(shorter);
            assertTrue(refused(inc.toFile(shorter)).contains("is 4096 bytes but the source is " + SIZE + " bytes"));
            shorterBefore.assertUnchanged(shorter);

            // 4. A same-size copy without a record (a plain copy, or a full backup that never finished).
            Path plain = dir.resolve("plain.raw");
            Files.copy(copyA, plain);
            Snapshot plainBefore = Snapshot.of(plain);
            assertTrue(refused(inc.toFile(plain)).contains("has no backup record (plain.raw.nbd-backup)"));
            plainBefore.assertUnchanged(plain);

            // 5. The full backup of another disk of the same size: its record names that disk.
            Snapshot copyBBefore = Snapshot.of(copyB);
            assertTrue(refused(inc.toFile(copyB)).contains("is a full backup of source \"disk-b\", not of source "
                    + "\"disk-a\""));
            copyBBefore.assertUnchanged(copyB);
            assertTrue(refused(incremental(c, BITMAP, null).toFile(copyA))
                    .contains("is a full backup of source \"disk-a\", not of a source with no identity"));

            // 6. Another bitmap than the full backup's.
            Snapshot copyABefore = Snapshot.of(copyA);
            assertTrue(refused(incremental(c, "b1", "disk-a").toFile(copyA))
                    .contains("is a full backup for bitmap b0, not for bitmap b1"));
            copyABefore.assertUnchanged(copyA);

            // 7. A device or an open file of another size.
            NbdConnection big = await(oh.connect(UnixSockets.connect(other.socketPath())));
            assertTrue(refused(inc.toDevice(big)).contains("the target export is " + (SIZE * 2) + " bytes but the "
                    + "source is " + SIZE + " bytes"));
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(shorter,
                    java.nio.file.StandardOpenOption.WRITE)) {
                assertTrue(refused(inc.toFile(ch)).contains("the target file is 4096 bytes"));
            }
            shorterBefore.assertUnchanged(shorter);

            // The previous backup itself is accepted, and the result is the image.
            NbdBackup.Result r = await(inc.toFile(copyA));
            assertTrue(r.bytesCopied() >= 128 * 1024 && r.bytesCopied() < full.bytesCopied() + 128 * 1024, "" + r);
            assertSame(diskA, copyA.toString(), "raw");
            assertEquals(recorded, Files.readString(record), "an incremental backup leaves the record alone");
        }
    }

    @Test
    void aFullBackupThatFailsOnBlockStatusLeavesNoRecordSoNoIncrementalGoesOntoIt() throws Exception {
        Path disk = PeerServer.createQcow2WithDirtyBitmap(dir.resolve("disk.qcow2"), SIZE, BITMAP);
        Path copy = dir.resolve("copy.raw");
        try (PeerServer q = serve(disk); NbdHandle h = handle()) {
            NbdConnection c = await(h.connect(NbdUri.parse(q.uri())));
            await(NbdBackup.builder(c).bitmap(BITMAP).build().toFile(copy));
            assertTrue(Files.exists(NbdBackup.recordPath(copy)));
        }
        // A source whose block status fails: the full backup must fail (not quietly copy a wrong plan).
        try (PeerServer failing = PeerServer.nbdkit("memory", "size=" + SIZE)
                .filter("error", "error-extents-rate=1", "error=EIO").start();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder()
                     .addMetaContext(NbdMetaContext.BASE_ALLOCATION).build())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(failing.socketPath())));
            NbdCommandException e = fails(NbdCommandException.class,
                    NbdBackup.builder(c).bitmap(BITMAP).build().toFile(copy));
            assertEquals(io.nbdnetty.codec.NbdErrno.EIO, e.error());
        }
        assertFalse(Files.exists(NbdBackup.recordPath(copy)), "the record went when the full backup started");
        try (PeerServer q = serve(disk); NbdHandle h = handle()) {
            NbdConnection c = await(h.connect(NbdUri.parse(q.uri())));
            assertTrue(refused(incremental(c, BITMAP, null).toFile(copy)).contains("has no backup record"));
        }
    }

    @Test
    void incrementalWhoseDirtyBitmapQueryFailsFailsAndLeavesTheTargetAlone() throws Exception {
        long size = 1 << 20;
        Path copy = dir.resolve("copy.raw");
        try (PeerServer mem = PeerServer.nbdkit("memory", "size=" + size).start(); NbdHandle h = handle()) {
            NbdConnection c = await(h.connect(UnixSockets.connect(mem.socketPath())));
            await(NbdBackup.builder(c).bitmap(BITMAP).build().toFile(copy));
        }
        Snapshot before = Snapshot.of(copy);
        // A server that offers the bitmap, then answers its block status with EIO.
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true, java.util.Map.of(NbdMetaContext.BASE_ALLOCATION, 1, BITMAP_CONTEXT, 2), size,
                    ScriptedServer.DEFAULT_TX_FLAGS);
            ScriptedServer.Req r = p.readRequest();
            assertEquals(7, r.type(), "NBD_CMD_BLOCK_STATUS");
            p.send(new io.nbdnetty.codec.NbdSimpleReply(r.cookie(), io.nbdnetty.codec.NbdErrno.EIO));
            p.awaitClientClose();
        }); NbdHandle h = handle()) {
            NbdConnection c = await(h.connect(s.connect()));
            assertTrue(c.canMetaContext(BITMAP_CONTEXT));
            NbdCommandException e = fails(NbdCommandException.class, incremental(c, BITMAP, null).toFile(copy));
            assertEquals(io.nbdnetty.codec.NbdErrno.EIO, e.error());
        }
        before.assertUnchanged(copy);
    }

    @Test
    void incrementalWithoutABitmapIsRefused() {
        assertThrows(IllegalStateException.class,
                () -> NbdBackup.builder(new CountingDevice(null)).incremental(true).build());
    }
}
