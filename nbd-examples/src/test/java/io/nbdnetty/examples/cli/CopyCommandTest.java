package io.nbdnetty.examples.cli;

import io.nbdnetty.examples.cli.copy.CopyCommand;
import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static io.nbdnetty.examples.cli.CliRun.nbd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code nbd copy}: the bytes it copies are the bytes nbdcopy copies, byte for byte; sparse stays sparse. */
class CopyCommandTest {
    @TempDir
    Path dir;

    private Path nbdcopyTo(String uri, String name) {
        Path out = dir.resolve(name);
        PeerClients.nbdcopy(uri, out.toString()).assertSuccess();
        return out;
    }

    private static void identical(Path expected, Path actual) throws Exception {
        assertEquals(Files.size(expected), Files.size(actual), "sizes of " + expected + " and " + actual);
        assertEquals(-1, Files.mismatch(expected, actual), "first difference between " + expected + " and "
                + actual);
    }

    /** The first {@code expected}-size bytes of {@code actual} (a larger export) are {@code expected}'s. */
    private static void prefixIdentical(Path expected, Path actual) throws Exception {
        byte[] e = Files.readAllBytes(expected);
        byte[] a = Files.readAllBytes(actual);
        assertTrue(a.length >= e.length, actual + " is shorter than " + expected);
        assertEquals(-1, java.util.Arrays.mismatch(e, java.util.Arrays.copyOf(a, e.length)));
    }

    @Test
    void patternToFileIsWhatNbdcopyCopies() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("pattern", "size=8M").start()) {
            Path theirs = nbdcopyTo(s.uri(), "theirs.img");
            Path ours = dir.resolve("ours.img");
            nbd("copy", s.uri(), ours.toString()).ok();
            identical(theirs, ours);
            // An existing, longer file is cut to the source's size.
            Files.write(ours, new byte[9 << 20]);
            nbd("copy", "--request-size", "64K", "--requests", "3", s.uri(), ours.toString()).ok();
            identical(theirs, ours);
        }
    }

    @Test
    void sparseRandomToFileIsIdenticalAndStaysSparse() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("sparse-random", "size=64M", "seed=42").start()) {
            Path theirs = nbdcopyTo(s.uri(), "theirs.img");
            Path ours = dir.resolve("ours.img");
            nbd("copy", s.uri(), ours.toString()).ok();
            identical(theirs, ours);
            long ourBlocks = CliRun.allocatedBlocks(ours);
            long theirBlocks = CliRun.allocatedBlocks(theirs);
            long fullBlocks = (64L << 20) / 512;
            assertTrue(ourBlocks < fullBlocks / 10, "sparse: " + ourBlocks + " of " + fullBlocks + " blocks");
            assertTrue(ourBlocks <= theirBlocks * 11 / 10 + 64, "ours " + ourBlocks + ", nbdcopy's " + theirBlocks);

            // Without extents everything is read, but zero blocks in the data still become holes.
            Path noExtents = dir.resolve("no-extents.img");
            nbd("copy", "--no-extents", "--connections", "1", s.uri(), noExtents.toString()).ok();
            identical(theirs, noExtents);
            assertTrue(CliRun.allocatedBlocks(noExtents) < fullBlocks / 10);
        }
    }

    @Test
    void dataPluginToFile() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("data", "data=1 2 3 @0x10000 (0x55 0xaa)*1000 @0x200000 9",
                "size=3M").start()) {
            Path theirs = nbdcopyTo(s.uri(), "theirs.img");
            Path ours = dir.resolve("ours.img");
            nbd("copy", "--request-size", "4K", s.uri(), ours.toString()).ok();
            identical(theirs, ours);
        }
    }

    @Test
    void fileToNbdToFileRoundTrip() throws Exception {
        // Random 4 KiB blocks among zeroes.
        byte[] data = new byte[5 << 20];
        Random r = new Random(1);
        for (int i = 0; i < data.length; i += 8192) {
            if (r.nextInt(3) == 0) {
                for (int j = i; j < i + 4096; j++) {
                    data[j] = (byte) r.nextInt();
                }
            }
        }
        Path in = dir.resolve("in.img");
        Files.write(in, data);
        try (PeerServer s = PeerServer.nbdkit("memory", "size=5M").start()) {
            nbd("copy", in.toString(), s.uri()).ok();
            Path theirs = nbdcopyTo(s.uri(), "theirs.img");
            identical(in, theirs);
            Path back = dir.resolve("back.img");
            nbd("copy", "--flush", s.uri(), back.toString()).ok();
            identical(in, back);
        }
    }

    @Test
    void nbdToNbdAndToNull() throws Exception {
        try (PeerServer src = PeerServer.nbdkit("sparse-random", "size=16M", "seed=3").start();
                PeerServer dst = PeerServer.nbdkit("memory", "size=20M").start()) {
            nbd("copy", "--connections", "2", src.uri(), dst.uri()).ok();
            prefixIdentical(nbdcopyTo(src.uri(), "a.img"), nbdcopyTo(dst.uri(), "b.img"));
            CliRun.Run nul = nbd("copy", "--progress", src.uri(), "null:").ok();
            assertTrue(nul.err().contains("100%"), nul.err());
            // A smaller destination is refused, as nbdcopy does.
            CliRun.Run small = nbd("copy", dst.uri(), src.uri());
            assertEquals(1, small.code());
            assertTrue(small.err().startsWith("nbd copy: "), small.err());
        }
    }

    @Test
    void stdinAndStdout() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("pattern", "size=3M").start();
                PeerServer m = PeerServer.nbdkit("memory", "size=4M").start()) {
            Path theirs = nbdcopyTo(s.uri(), "theirs.img");
            Path out = dir.resolve("stdout.img");
            Path err = dir.resolve("err.txt");
            assertEquals(0, CliRun.child(null, out, err, "copy", s.uri(), "-"),
                    Files.readString(err, StandardCharsets.UTF_8));
            identical(theirs, out);
            assertEquals(0, CliRun.child(theirs, dir.resolve("o.txt"), err, "copy", "-", m.uri()),
                    Files.readString(err, StandardCharsets.UTF_8));
            prefixIdentical(theirs, nbdcopyTo(m.uri(), "back.img"));
        }
    }

    @Test
    void refusalsAreOneLine() throws Exception {
        try (PeerServer ro = PeerServer.nbdkit("memory", "size=1M").readOnly().start()) {
            Path f = dir.resolve("f.img");
            Files.write(f, new byte[4096]);
            CliRun.Run r = nbd("copy", f.toString(), ro.uri());
            assertEquals(1, r.code());
            assertTrue(r.err().contains("read-only"), r.err());
            assertEquals(1, r.err().lines().count(), r.err());
            CliRun.Run bad = nbd("copy", "nbd+unix:///", f.toString());
            assertEquals(1, bad.code());
            assertTrue(bad.err().startsWith("nbd copy: invalid NBD URI"), bad.err());
            CliRun.Run brackets = nbd("copy", "[", "qemu-nbd", "x", "]", f.toString());
            assertEquals(1, brackets.code());
            CliRun.Run missing = nbd("copy", dir.resolve("nope").toString(), "null:");
            assertEquals(1, missing.code());
            assertFalse(missing.err().contains("\tat "), missing.err());
            assertTrue(nbd("copy", "--help").ok().out().contains("--request-size"));
        }
    }

    @Test
    void connectionsFallBackToOneWithoutMultiConn() throws Exception {
        Path image = PeerServer.createQcow2WithDirtyBitmap(dir.resolve("d.qcow2"), 2L << 20, "b0");
        try (PeerServer q = PeerServer.qemuNbd(image, "qcow2", "disk")) {
            Path out = dir.resolve("q.img");
            CliRun.Run r = nbd("copy", "--connections", "4", q.uri(), out.toString()).ok();
            assertTrue(r.err().contains("multi-conn"), r.err());
            identical(nbdcopyTo(q.uri(), "theirs.img"), out);
        }
    }

    @Test
    void bracketCommandSourceCopiesWhatNbdcopyCopies() throws Exception {
        io.nbdnetty.testing.peers.Interop.requireCommand("nbdkit");
        io.nbdnetty.testing.peers.Interop.requireCommand("socat");
        Path ours = dir.resolve("ours.img");
        Path theirs = dir.resolve("theirs.img");
        CliRun.Run r = nbd("copy", "[", "nbdkit", "pattern", "size=1M", "]", ours.toString());
        assertEquals(0, r.code(), r.err());
        io.nbdnetty.testing.peers.PeerClients.nbdcopy("--", "[", "nbdkit", "pattern", "size=1M", "]",
                theirs.toString()).assertSuccess();
        assertEquals(-1L, Files.mismatch(ours, theirs));
        assertEquals(1L << 20, Files.size(ours));
        CliRun.Run unbalanced = nbd("copy", "[", "nbdkit", "memory", "1M", ours.toString());
        assertEquals(1, unbalanced.code());
        assertTrue(unbalanced.err().contains("without a matching"), unbalanced.err());
    }

    @Test
    void busyPollsByDefaultOnlyWhenItsBusyThreadsLeaveACoreFree() {
        long on = CopyCommand.DEFAULT_BUSY_POLL_MICROS;
        long library = TransportOption.LIBRARY_DEFAULT_MICROS;
        assertTrue(on > library, "a longer window than the library's");
        assertEquals(on, CopyCommand.defaultBusyPollMicros(2, 1, 0), "one connection to null: on two cores");
        assertEquals(library, CopyCommand.defaultBusyPollMicros(2, 2, 0), "two loops take both cores");
        assertEquals(library, CopyCommand.defaultBusyPollMicros(2, 1, 1), "a file end keeps the other core busy");
        assertEquals(library, CopyCommand.defaultBusyPollMicros(1, 1, 0), "one core");
        assertEquals(on, CopyCommand.defaultBusyPollMicros(8, 2, 1));
    }

    @Test
    void oneConnectionCopiesTheSameWithAndWithoutBusyPolling() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("pattern", "size=16M").start()) {
            Path theirs = nbdcopyTo(s.uri(), "theirs.img");
            // NBD to NBD through nbdkit memory, then to a file: each leg with the default (polling where a core is
            // free) and with --busy-poll 0.
            for (String poll : new String[] {"", "0"}) {
                try (PeerServer mem = PeerServer.nbdkit("memory", "size=16M").start()) {
                    String[] toMem = poll.isEmpty() ? new String[] {"copy", "-C", "1", s.uri(), mem.uri()}
                            : new String[] {"copy", "-C", "1", "--busy-poll", poll, s.uri(), mem.uri()};
                    nbd(toMem).ok();
                    Path ours = dir.resolve("ours" + poll + ".img");
                    nbd("copy", "-C", "1", mem.uri(), ours.toString()).ok();
                    identical(theirs, ours);
                    nbd("copy", "-C", "1", mem.uri(), "null:").ok();
                }
            }
        }
    }
}
