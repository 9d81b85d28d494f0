package io.nbdnetty.examples.cli.copy;

import io.nbdnetty.client.copy.CopySource;
import io.nbdnetty.client.copy.CopyTarget;
import io.nbdnetty.client.copy.FileEndpoint;
import io.nbdnetty.examples.cli.CliErrors;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens the local ends of {@code nbd copy}: regular files and block devices (as {@link FileEndpoint}s, a sparse
 * source file mapped by {@link FileExtents}), and stdin, stdout, pipes and character devices (as
 * {@link StreamEndpoint}s). Errors name the file.
 */
final class LocalEndpoints {
    private LocalEndpoints() {
    }

    // ---------------------------------------------------------------------------------------------- opening

    private static final int S_IFMT = 0170000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFBLK = 0060000;

    /**
     * Opens a local file, block device, character device or FIFO for reading; errors name the file. With {@code
     * holes}, a sparse regular file is read only where it has data (its holes are zero regions, as nbdcopy does with
     * SEEK_DATA/SEEK_HOLE).
     */
    static CopySource openLocalSource(String name, boolean holes) throws IOException {
        return openLocalSourceNamed(name, holes);
    }

    private static CopySource openLocalSourceNamed(String name, boolean holes) throws IOException {
        try {
            if (!name.equals("-") && Files.isDirectory(Path.of(name))) {
                throw new IOException(name + ": Is a directory");
            }
            return openLocalSource0(name, holes);
        } catch (IOException e) {
            throw CliErrors.aboutFile(name, e);
        }
    }

    /** Opens a local file, block device, character device or FIFO for writing; errors name the file. */
    static CopyTarget openLocalDestination(String name) throws IOException {
        try {
            if (!name.equals("-") && Files.isDirectory(Path.of(name))) {
                throw new IOException(name + ": Is a directory");
            }
            return openLocalDestination0(name);
        } catch (IOException e) {
            throw CliErrors.aboutFile(name, e);
        }
    }

    private static CopySource openLocalSource0(String name, boolean holes) throws IOException {
        if (name.equals("-")) {
            return new StreamEndpoint("stdin", new java.io.FileInputStream(java.io.FileDescriptor.in), null);
        }
        Path p = Path.of(name);
        if (!Files.exists(p)) {
            throw new IOException(name + ": No such file or directory");
        }
        int mode = mode(p);
        if ((mode & S_IFMT) == S_IFREG) {
            FileChannel ch = FileChannel.open(p, java.nio.file.StandardOpenOption.READ);
            return FileEndpoint.source(p, ch, ch.size()).holes(holes ? FileExtents.open(p) : null);
        }
        if ((mode & S_IFMT) == S_IFBLK) {
            FileChannel ch = FileChannel.open(p, java.nio.file.StandardOpenOption.READ);
            return FileEndpoint.source(p, ch, blockDeviceSize(p));
        }
        return new StreamEndpoint(name, Files.newInputStream(p), null);
    }

    /** Opens (creating if need be) a local file, block device, character device or FIFO for writing. */
    private static CopyTarget openLocalDestination0(String name) throws IOException {
        if (name.equals("-")) {
            if (System.console() != null) {
                throw new IOException("refusing to write to tty");
            }
            return new StreamEndpoint("stdout", null, new java.io.FileOutputStream(java.io.FileDescriptor.out));
        }
        Path p = Path.of(name);
        if (!Files.exists(p)) {
            FileChannel ch = FileChannel.open(p, java.nio.file.StandardOpenOption.WRITE,
                    java.nio.file.StandardOpenOption.CREATE_NEW);
            return FileEndpoint.replacing(p, ch);
        }
        int mode = mode(p);
        if ((mode & S_IFMT) == S_IFREG) {
            FileChannel ch = FileChannel.open(p, java.nio.file.StandardOpenOption.WRITE);
            return FileEndpoint.replacing(p, ch);
        }
        if ((mode & S_IFMT) == S_IFBLK) {
            FileChannel ch = FileChannel.open(p, java.nio.file.StandardOpenOption.WRITE);
            return FileEndpoint.inPlace(p, ch, blockDeviceSize(p));
        }
        return new StreamEndpoint(name, null, Files.newOutputStream(p, java.nio.file.StandardOpenOption.WRITE));
    }

    private static int mode(Path p) throws IOException {
        try {
            return (Integer) Files.getAttribute(p, "unix:mode");
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return Files.isRegularFile(p) ? S_IFREG : 0;
        }
    }

    /** A block device's size from sysfs (Java cannot seek to the end of a device). */
    private static long blockDeviceSize(Path p) throws IOException {
        long rdev = ((Number) Files.getAttribute(p, "unix:rdev")).longValue();
        long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
        long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
        Path sys = Path.of("/sys/dev/block/" + major + ":" + minor + "/size");
        try {
            return Long.parseLong(Files.readString(sys).trim()) * 512;
        } catch (IOException | NumberFormatException e) {
            throw new IOException(p + ": cannot find the size of the block device (" + sys + ")", e);
        }
    }
}
