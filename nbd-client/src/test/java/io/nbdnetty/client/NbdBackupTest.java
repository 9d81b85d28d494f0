package io.nbdnetty.client;

import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.nbdnetty.client.TestSupport.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
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

    @Test
    void incrementalWithoutABitmapIsRefused() {
        assertThrows(IllegalStateException.class,
                () -> NbdBackup.builder(new CountingDevice(null)).incremental(true).build());
    }
}
