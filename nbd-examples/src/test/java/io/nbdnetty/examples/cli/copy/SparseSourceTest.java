package io.nbdnetty.examples.cli.copy;

import io.nbdnetty.client.copy.Region;
import io.nbdnetty.examples.cli.CliRun;
import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code nbd copy SPARSE-FILE URI} reads only the file's data (SEEK_DATA/SEEK_HOLE), as nbdcopy does: its holes
 * become zero regions without being read. Checked on the file system of the temporary directory (ext4 or tmpfs here,
 * both of which track holes), with nbdkit as the destination and nbdcopy reading the result back.
 */
class SparseSourceTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    /** A 64 MiB file with 1 MiB of random data at 0, 20 and 63 MiB, holes elsewhere. */
    private Path sparseFile() throws Exception {
        Path f = dir.resolve("sparse.img");
        Random r = new Random(18);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(64L * MIB);
            for (long at : new long[] {0, 20L * MIB, 63L * MIB}) {
                byte[] b = new byte[MIB];
                r.nextBytes(b);
                raf.seek(at);
                raf.write(b);
            }
        }
        return f;
    }

    @Test
    void holesOfASourceFileAreFoundWithSeekData() throws Exception {
        Assumptions.assumeTrue(FileExtents.available(), "JNA is not available here");
        Path f = sparseFile();
        try (FileExtents e = FileExtents.open(f)) {
            List<Region> regions = e.regions(0, Files.size(f));
            long data = regions.stream().filter(x -> !x.zero()).mapToLong(Region::length).sum();
            assertEquals(3L * MIB, data, regions.toString());
            assertEquals(List.of(new Region(0, MIB, false),
                    new Region(MIB, 19L * MIB, true),
                    new Region(20L * MIB, MIB, false),
                    new Region(21L * MIB, 42L * MIB, true),
                    new Region(63L * MIB, MIB, false)), regions);
            // A window inside a hole, and one across a boundary.
            assertEquals(List.of(new Region(2L * MIB, MIB, true)), e.regions(2L * MIB, MIB));
            assertEquals(List.of(new Region(19L * MIB, MIB, true),
                    new Region(20L * MIB, 512 << 10, false)), e.regions(19L * MIB, MIB + (512 << 10)));
        }
        // A file without holes is all data.
        Path full = Files.write(dir.resolve("full.img"), new byte[3 * 4096]);
        try (FileExtents e = FileExtents.open(full)) {
            assertEquals(List.of(new Region(0, 3 * 4096, false)), e.regions(0, 3 * 4096));
        }
    }

    /** With zero detection off (-S 0), only the data is written: the holes were never read. */
    @Test
    void copyWritesOnlyTheDataOfASparseFile() throws Exception {
        Assumptions.assumeTrue(FileExtents.available(), "JNA is not available here");
        Path f = sparseFile();
        try (PeerServer server = PeerServer.nbdkit("memory", "size=64M").start()) {
            Path err = dir.resolve("err.txt");
            int code = CliRun.child(null, dir.resolve("out.txt"), err, "copy", "-v", "-S", "0", "-C", "1",
                    "--request-size", "256K", f.toString(), server.uri());
            String log = Files.readString(err, StandardCharsets.UTF_8);
            assertEquals(0, code, log);
            long writes = log.lines().filter(l -> l.contains("send NBD_CMD_WRITE ")).count();
            assertEquals(12, writes, "3 MiB of data in 256 KiB writes:\n" + log);
            assertTrue(log.contains("NBD_CMD_WRITE_ZEROES"), log);
            Path back = dir.resolve("back.img");
            assertEquals(0, PeerClients.nbdcopy(server.uri(), back.toString()).exitCode());
            assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(back));

            // --no-extents reads everything, holes included: 256 writes.
            code = CliRun.child(null, dir.resolve("out2.txt"), err, "copy", "-v", "-S", "0", "-C", "1",
                    "--request-size", "256K", "--no-extents", f.toString(), server.uri());
            log = Files.readString(err, StandardCharsets.UTF_8);
            assertEquals(0, code, log);
            assertEquals(256, log.lines().filter(l -> l.contains("send NBD_CMD_WRITE ")).count());
        }
    }
}
