package io.nbdnetty.examples.cli.copy;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import io.nbdnetty.client.copy.HoleMap;
import io.nbdnetty.client.copy.Region;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a local file has data and where it has holes, from {@code lseek(2)} with {@code SEEK_DATA} and {@code
 * SEEK_HOLE} (Linux, on file systems that track holes: ext4, xfs, btrfs, tmpfs, ...), so that {@code nbd copy} reads
 * only the data of a sparse file, as nbdcopy does. The JDK has no way to ask (Java 17 has no foreign function API),
 * so this calls the C library through JNA, the long-established library for that (used by Elasticsearch, IntelliJ,
 * JRuby ...), in this CLI module only: the library modules take no native dependency for it; the copy engine takes it
 * as a {@link HoleMap}.
 *
 * <p>Plain fallback: where JNA or the call is not available (another OS, no native library for this machine), {@link
 * #open} returns null and the copy reads the whole file as before. A file system that does not track holes answers
 * as the kernel's generic code does (all data, one hole at the end), which is also correct. Not thread-safe: one per
 * copy, used from the copy's main thread.
 */
final class FileExtents implements HoleMap {
    private static final int O_RDONLY = 0;
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;
    private static final int ENXIO = 6;

    /** The few C library calls used, bound by JNA. */
    interface LibC extends Library {
        int open(String path, int flags) throws LastErrorException;

        long lseek(int fd, long offset, int whence) throws LastErrorException;

        int close(int fd) throws LastErrorException;
    }

    private static final LibC LIBC = load();

    private static LibC load() {
        if (System.getProperty("nbd.noSeekData") != null) {
            return null;
        }
        try {
            return Platform.isLinux() ? Native.load("c", LibC.class) : null;
        } catch (Throwable e) { // UnsatisfiedLinkError, NoClassDefFoundError: no JNA for this machine
            return null;
        }
    }

    private final Path path;
    private final int fd;

    private FileExtents(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    /**
     * Whether holes can be found here (JNA loaded on Linux).
     *
     * @return true if {@link #open} can succeed
     */
    static boolean available() {
        return LIBC != null;
    }

    /**
     * Opens a file to map its holes.
     *
     * @param path a regular file
     * @return the map, or null where holes cannot be found (then read everything)
     */
    static FileExtents open(Path path) {
        if (LIBC == null) {
            return null;
        }
        try {
            return new FileExtents(path, LIBC.open(path.toString(), O_RDONLY));
        } catch (LastErrorException | UnsupportedOperationException e) {
            return null;
        }
    }

    /**
     * Describes {@code [offset, offset + length)} as data and hole regions, covering it exactly, in order.
     *
     * @param offset where to start
     * @param length how much
     * @return the regions; a hole is a region with {@code zero} set
     */
    @Override
    public List<Region> regions(long offset, long length) {
        List<Region> out = new ArrayList<>();
        long end = offset + length;
        long pos = offset;
        while (pos < end) {
            long data = seek(pos, SEEK_DATA, end);
            if (data > pos) {
                Region.add(out, new Region(pos, Math.min(data, end) - pos, true));
            }
            if (data >= end) {
                break;
            }
            long hole = Math.min(seek(data, SEEK_HOLE, end), end);
            if (hole <= data) {
                // Cannot happen for a file that does not change under us; read the rest rather than loop.
                hole = end;
            }
            Region.add(out, new Region(data, hole - data, false));
            pos = hole;
        }
        return out;
    }

    /** lseek; ENXIO (no data after offset, or offset past the end) means {@code end}. */
    private long seek(long offset, int whence, long end) {
        try {
            return LIBC.lseek(fd, offset, whence);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == ENXIO) {
                return end;
            }
            // Any other failure (EINVAL from a file system without the calls, say): the plain fallback, no hole
            // found from here (SEEK_DATA: data at once; SEEK_HOLE: data up to the end). The reads that follow
            // report a real I/O error in the usual way.
            return whence == SEEK_DATA ? offset : end;
        }
    }

    @Override
    public void close() {
        try {
            LIBC.close(fd);
        } catch (LastErrorException e) {
            // Read-only descriptor: nothing was written that a failed close could lose.
        }
    }
}
