package io.nbdnetty.examples.cli;

import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.nbdnetty.examples.cli.CliRun.nbd;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code nbd backup}: full then incremental backup of a qcow2 served by qemu-nbd with a dirty bitmap. */
class BackupCommandTest {
    private static final long SIZE = 8L << 20;

    @TempDir
    Path dir;

    private static long bytesCopied(CliRun.Run run) {
        Matcher m = Pattern.compile("bytes copied: (\\d+)").matcher(run.out());
        assertTrue(m.find(), run.out());
        return Long.parseLong(m.group(1));
    }

    private static void assertSame(Path image, Path copy) {
        PeerClients.qemuImg("compare", "-U", "-f", "qcow2", "-F", "raw", image.toString(), copy.toString())
                .assertSuccess();
    }

    /**
     * Against qemu-nbd 10, which negotiates extended headers and advertises NBD_FLAG_BLOCK_STATUS_PAYLOAD: the
     * incremental backup walks the bitmap with filtered block status (only {@code qemu:dirty-bitmap:b0}, though
     * {@code base:allocation} is negotiated too) and still copies exactly what the image holds.
     */
    @Test
    void incrementalBackupFromQemuNbd10() throws Exception {
        String image = dir.resolve("q10.qcow2").toString();
        PeerClients.qemu10("qemu-img", "create", "-q", "-f", "qcow2", image, Long.toString(SIZE)).assertSuccess();
        PeerClients.qemu10("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 1M", image).assertSuccess();
        PeerClients.qemu10("qemu-img", "bitmap", "--add", image, "b0").assertSuccess();
        Path copy = dir.resolve("q10.raw");
        try (PeerServer q = PeerServer.qemuNbd10(Path.of(image), "qcow2", "disk", "-B", "b0")) {
            CliRun.Run full = nbd("backup", "--bitmap", "b0", q.uri(), copy.toString());
            assertEquals(0, full.code(), full.err());
            assertSame(Path.of(image), copy);
        }
        PeerClients.qemu10("qemu-io", "-f", "qcow2", "-c", "write -P 0xcd 5M 192k", image).assertSuccess();
        try (PeerServer q = PeerServer.qemuNbd10(Path.of(image), "qcow2", "disk", "-B", "b0")) {
            CliRun.Run inc = nbd("backup", "--bitmap", "b0", "--incremental", q.uri(), copy.toString());
            assertEquals(0, inc.code(), inc.err());
            long copied = bytesCopied(inc);
            assertTrue(copied >= 192 * 1024 && copied <= 192 * 1024 + 128 * 1024,
                    "only the dirty range (the 1 MiB written before the bitmap is clean): " + inc.out());
            assertSame(Path.of(image), copy);
        }
    }

    @Test
    void fullThenIncrementalBackupMatchTheImage() throws Exception {
        Path image = PeerServer.createQcow2WithDirtyBitmap(dir.resolve("disk.qcow2"), SIZE, "b0");
        Path copy = dir.resolve("copy.raw");
        try (PeerServer q = PeerServer.qemuNbd(image, "qcow2", "disk", "-B", "b0")) {
            CliRun.Run full = nbd("backup", "--bitmap", "b0", q.uri(), copy.toString());
            assertEquals(0, full.code(), full.err());
            assertTrue(full.out().startsWith("full backup of "), full.out());
            assertEquals(SIZE, Files.size(copy));
            assertSame(image, copy);
        }
        PeerClients.qemuIo("-f", "qcow2", "-c", "write -P 0xcd 3M 128k", image.toString()).assertSuccess();
        try (PeerServer q = PeerServer.qemuNbd(image, "qcow2", "disk", "-B", "b0")) {
            CliRun.Run inc = nbd("backup", "--bitmap", "b0", "--incremental", "--max-in-flight", "256K",
                    q.uri(), copy.toString());
            assertEquals(0, inc.code(), inc.err());
            long copied = bytesCopied(inc);
            long dirty = PeerServer.QCOW2_DIRTY_LENGTH + 128 * 1024;
            assertTrue(copied >= 128 * 1024 && copied <= dirty + 128 * 1024, inc.out());
            assertSame(image, copy);

            CliRun.Run noBitmap = nbd("backup", "--incremental", q.uri(), copy.toString());
            assertEquals(1, noBitmap.code());
            assertTrue(noBitmap.err().contains("--incremental needs --bitmap NAME"), noBitmap.err());
            CliRun.Run wrongBitmap = nbd("backup", "--bitmap", "nope", q.uri(),
                    dir.resolve("x.raw").toString());
            assertEquals(1, wrongBitmap.code());
            assertTrue(wrongBitmap.err().contains("qemu:dirty-bitmap:nope"), wrongBitmap.err());
        }
    }

    @Test
    void incrementalOntoSomethingThatIsNotThePreviousBackupFailsAndChangesNothing() throws Exception {
        Path image = PeerServer.createQcow2WithDirtyBitmap(dir.resolve("disk.qcow2"), SIZE, "b0");
        Path other = PeerServer.createQcow2WithDirtyBitmap(dir.resolve("other.qcow2"), SIZE, "b0");
        Path otherCopy = dir.resolve("other.raw");
        try (PeerServer q = PeerServer.qemuNbd(other, "qcow2", "other", "-B", "b0")) {
            nbd("backup", "--bitmap", "b0", q.uri(), otherCopy.toString()).ok();
            assertTrue(Files.readString(dir.resolve("other.raw.nbd-backup")).contains("\nsource=other\n"));
        }
        try (PeerServer q = PeerServer.qemuNbd(image, "qcow2", "disk", "-B", "b0")) {
            // The report's case: a path that does not exist. Before: exit 0 and a file holding only the dirty range.
            Path nothere = dir.resolve("nothere.img");
            CliRun.Run r = nbd("backup", "--bitmap", "b0", "--incremental", q.uri(), nothere.toString());
            assertEquals(1, r.code());
            assertEquals("nbd backup: " + nothere + " does not exist: an incremental backup goes onto the previous "
                    + "full backup of the same disk (take a full backup first)\n", r.err());
            assertEquals("", r.out());
            assertFalse(Files.exists(nothere));

            // A file of another size.
            Path small = Files.write(dir.resolve("small.raw"), new byte[512]);
            r = nbd("backup", "--bitmap", "b0", "--incremental", q.uri(), small.toString());
            assertEquals(1, r.code());
            assertTrue(r.err().startsWith("nbd backup: " + small + " is 512 bytes but the source is " + SIZE
                    + " bytes"), r.err());
            assertEquals(512, Files.size(small));

            // The full backup of another disk (exported under another name): its record says so.
            byte[] before = Files.readAllBytes(otherCopy);
            r = nbd("backup", "--bitmap", "b0", "--incremental", q.uri(), otherCopy.toString());
            assertEquals(1, r.code());
            assertTrue(r.err().startsWith("nbd backup: " + otherCopy + " is a full backup of source \"other\", "
                    + "not of source \"disk\""), r.err());
            assertEquals(1, r.err().strip().split("\n").length, r.err());
            assertArrayEquals(before, Files.readAllBytes(otherCopy));

            // --source-id names the disk whatever it is exported as: the chain works across export names.
            Path copy = dir.resolve("copy.raw");
            nbd("backup", "--bitmap", "b0", "--source-id", "vm1-disk0", q.uri(), copy.toString()).ok();
            r = nbd("backup", "--bitmap", "b0", "--incremental", q.uri(), copy.toString());
            assertEquals(1, r.code(), "without --source-id the export name is the identity");
            assertTrue(r.err().contains("is a full backup of source \"vm1-disk0\", not of source \"disk\""),
                    r.err());
            nbd("backup", "--bitmap", "b0", "--incremental", "--source-id", "vm1-disk0", q.uri(),
                    copy.toString()).ok();
            assertSame(image, copy);
        }
    }

    @Test
    void failingBlockStatusFailsABackupInsteadOfGuessing() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("memory", "size=1M").filter("error", "error-extents-rate=1",
                "error=EIO").start()) {
            Path copy = dir.resolve("copy.raw");
            CliRun.Run r = nbd("backup", s.uri(), copy.toString());
            assertEquals(1, r.code());
            assertTrue(r.err().startsWith("nbd backup: " + s.uri() + ": block status failed (") && r.err()
                    .contains("EIO") && r.err().endsWith("so nothing was copied\n"), r.err());
            assertFalse(Files.exists(dir.resolve("copy.raw.nbd-backup")));
        }
    }
}
