package io.nbdnetty.examples.cli;

import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdConnectionPool;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdExtent;
import io.nbdnetty.client.NbdMetaContext;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** The two ends of {@code nbd copy}: NBD exports, files, block devices, stdin/stdout and {@code null:}. */
final class CopyEndpoints {
    private CopyEndpoints() {
    }

    /** A region of the source: data to copy, or zeroes the destination may make sparse. */
    record Region(long offset, long length, boolean zero) {
        long end() {
            return offset + length;
        }
    }

    /** Where the data comes from. */
    interface Source extends AutoCloseable {
        /** The size in bytes, or -1 for a stream whose end is known only at EOF. */
        long size();

        /** Whether reads must be sequential (a pipe). */
        default boolean stream() {
            return size() < 0;
        }

        /** The largest request the source takes. */
        default long maxRequest() {
            return Long.MAX_VALUE;
        }

        /** Describes {@code [offset, offset+length)} as data and zero regions, covering it exactly. */
        default List<Region> regions(long offset, long length) throws Exception {
            return List.of(new Region(offset, length, false));
        }

        /**
         * Reads; a stream source reads the next bytes (its offset argument is where they land) and may return fewer
         * at EOF, or an empty buffer at EOF.
         */
        CompletableFuture<ByteBuf> read(long offset, int length) throws IOException;

        @Override
        default void close() throws Exception {
        }
    }

    /** Where the data goes. */
    interface Destination extends AutoCloseable {
        /** The size in bytes, or -1 when it grows with the copy. */
        long size();

        /** Whether writes must be in order (a pipe). */
        default boolean stream() {
            return false;
        }

        /** Whether the destination is asynchronous (NBD): its writes may be issued from event loop callbacks. */
        default boolean async() {
            return false;
        }

        /** Whether a zero region may simply be skipped (a sparse file created for the copy, or null:). */
        default boolean skipZeroes() {
            return false;
        }

        /** Whether data is thrown away like zeroes (null:), so that looking for zero blocks would only cost time. */
        default boolean discards() {
            return false;
        }

        default long maxRequest() {
            return Long.MAX_VALUE;
        }

        /** Sets the size before the copy (regular files only). */
        default void prepare(long sourceSize) throws IOException {
        }

        /** Writes the buffer's readable bytes at offset; the destination releases the buffer. */
        CompletableFuture<Void> write(long offset, ByteBuf data) throws IOException;

        /** Makes a range read as zeroes. */
        CompletableFuture<Void> zero(long offset, long length) throws IOException;

        /** Sets the final size after a stream source ended (regular files only). */
        default void finish(long copied) throws IOException {
        }

        CompletableFuture<Void> flush() throws IOException;

        @Override
        default void close() throws Exception {
        }
    }

    // ------------------------------------------------------------------------------------------------------ NBD

    /** An NBD export through a pool of one or more connections. */
    static final class Nbd implements Source, Destination {
        private final String name;
        final NbdConnectionPool pool;
        /** False once block status failed: from then on everything is read. */
        private boolean extents;
        /** Where a one-line note goes when block status fails and the copy reads everything instead. */
        java.util.function.Consumer<String> notes = m -> { };

        Nbd(String name, NbdConnectionPool pool, boolean extents) {
            this.name = name;
            this.pool = pool;
            this.extents = extents && pool.connections().get(0).canMetaContext(NbdMetaContext.BASE_ALLOCATION);
        }

        NbdExportInfo info() {
            return pool.exportInfo();
        }

        @Override
        public long size() {
            return pool.size();
        }

        @Override
        public boolean async() {
            return true;
        }

        @Override
        public boolean stream() {
            return false;
        }

        @Override
        public long maxRequest() {
            return Math.max(1, info().maximumBlockSize());
        }

        @Override
        public List<Region> regions(long offset, long length) throws Exception {
            if (!extents) {
                return List.of(new Region(offset, length, false));
            }
            List<Region> out = new ArrayList<>();
            long at = offset;
            long end = offset + length;
            while (at < end) {
                NbdBlockStatus st;
                try {
                    st = CliSupport.await(pool.blockStatus(at, Math.min(end - at, 0x8000_0000L), 0));
                } catch (io.nbdnetty.client.NbdCommandException | io.nbdnetty.client.NbdTimeoutException e) {
                    // The data is still right if every byte is read (nbdcopy gives up instead); but say so.
                    giveUpExtents(at, e.getMessage());
                    out.add(new Region(at, end - at, false));
                    break;
                }
                List<NbdExtent> ex = st.extents(NbdMetaContext.BASE_ALLOCATION);
                if (ex.isEmpty()) {
                    giveUpExtents(at, "the reply had no base:allocation extents");
                    out.add(new Region(at, end - at, false));
                    break;
                }
                for (NbdExtent e : ex) {
                    long s = Math.max(e.offset(), at);
                    long t = Math.min(e.end(), end);
                    if (t <= s) {
                        continue;
                    }
                    add(out, new Region(s, t - s, e.isZero()));
                    at = t;
                }
            }
            return out;
        }

        private void giveUpExtents(long at, String why) {
            extents = false;
            notes.accept(name + ": block status failed at offset " + at + " (" + why + "): reading everything "
                    + "from there on instead of skipping holes");
        }

        @Override
        public CompletableFuture<ByteBuf> read(long offset, int length) {
            return pool.read(offset, length, 0);
        }

        @Override
        public CompletableFuture<Void> write(long offset, ByteBuf data) {
            return pool.write(offset, data, 0);
        }

        @Override
        public CompletableFuture<Void> zero(long offset, long length) {
            if (info().canZero()) {
                List<CompletableFuture<Void>> parts = new ArrayList<>();
                for (long at = offset; at < offset + length;) {
                    long n = Math.min(offset + length - at, 1L << 30);
                    parts.add(pool.writeZeroes(at, n, 0));
                    at += n;
                }
                return parts.size() == 1 ? parts.get(0) : CompletableFuture.allOf(parts.toArray(
                        CompletableFuture[]::new));
            }
            // No WRITE_ZEROES: write buffers of zeroes.
            List<CompletableFuture<Void>> parts = new ArrayList<>();
            long chunk = Math.min(maxRequest(), 1L << 20);
            for (long at = offset; at < offset + length;) {
                int n = (int) Math.min(offset + length - at, chunk);
                ByteBuf zeroes = ByteBufAllocator.DEFAULT.buffer(n).writeZero(n);
                parts.add(pool.write(at, zeroes, 0));
                at += n;
            }
            return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
        }

        @Override
        public CompletableFuture<Void> flush() {
            return info().canFlush() ? pool.flush() : CompletableFuture.completedFuture(null);
        }

        @Override
        public void close() throws Exception {
            try {
                CliSupport.await(pool.disconnect());
            } catch (Exception ignored) {
                // Closing anyway.
            } finally {
                pool.close();
            }
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static void add(List<Region> out, Region r) {
        if (!out.isEmpty()) {
            Region last = out.get(out.size() - 1);
            if (last.zero() == r.zero() && last.end() == r.offset()) {
                out.set(out.size() - 1, new Region(last.offset(), last.length() + r.length(), r.zero()));
                return;
            }
        }
        out.add(r);
    }

    // ------------------------------------------------------------------------------------------ files, devices

    /** A regular file or a block device, read or written at offsets (from the main thread only). */
    static final class LocalFile implements Source, Destination {
        private final Path path;
        private final FileChannel channel;
        private final boolean blockDevice;
        private final boolean writing;
        private long size;
        /** Where a regular source file has holes (null: read everything). */
        private FileExtents extents;

        LocalFile(Path path, FileChannel channel, boolean blockDevice, long size, boolean writing) {
            this.path = path;
            this.channel = channel;
            this.blockDevice = blockDevice;
            this.size = size;
            this.writing = writing;
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public long maxRequest() {
            return Long.MAX_VALUE;
        }

        @Override
        public boolean stream() {
            return false;
        }

        /** Reads only the data of a sparse source file: its holes become zero regions (SEEK_DATA/SEEK_HOLE). */
        LocalFile skippingHoles() {
            if (!writing && !blockDevice) {
                extents = FileExtents.open(path);
            }
            return this;
        }

        @Override
        public List<Region> regions(long offset, long length) {
            return extents != null ? extents.regions(offset, length)
                    : List.of(new Region(offset, length, false));
        }

        @Override
        public boolean skipZeroes() {
            // A regular file is emptied then extended before the copy, so unwritten ranges are holes of zeroes.
            return writing && !blockDevice;
        }

        @Override
        public void prepare(long sourceSize) throws IOException {
            if (!blockDevice) {
                channel.truncate(0);
                if (sourceSize > 0) {
                    extend(sourceSize);
                }
                size = sourceSize;
            }
        }

        private void extend(long newSize) throws IOException {
            // Writing one byte at the end would allocate a block; RandomAccessFile.setLength is ftruncate.
            try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(path.toFile(), "rw")) {
                raf.setLength(newSize);
            }
        }

        @Override
        public void finish(long copied) throws IOException {
            if (!blockDevice && channel.size() != copied) {
                extend(copied);
            }
        }

        @Override
        public CompletableFuture<ByteBuf> read(long offset, int length) throws IOException {
            ByteBuf buf = ByteBufAllocator.DEFAULT.buffer(length);
            try {
                while (buf.readableBytes() < length) {
                    int n = buf.writeBytes(channel, offset + buf.readableBytes(), length - buf.readableBytes());
                    if (n < 0) {
                        throw new IOException(path + ": unexpected end of file at offset "
                                + (offset + buf.readableBytes()));
                    }
                }
                return CompletableFuture.completedFuture(buf);
            } catch (IOException | RuntimeException e) {
                buf.release();
                throw e;
            }
        }

        @Override
        public CompletableFuture<Void> write(long offset, ByteBuf data) throws IOException {
            try {
                int idx = data.readerIndex();
                int left = data.readableBytes();
                long at = offset;
                while (left > 0) {
                    int n = data.getBytes(idx, channel, at, left);
                    idx += n;
                    at += n;
                    left -= n;
                }
                return CompletableFuture.completedFuture(null);
            } finally {
                data.release();
            }
        }

        @Override
        public CompletableFuture<Void> zero(long offset, long length) throws IOException {
            if (skipZeroes()) {
                return CompletableFuture.completedFuture(null);
            }
            int chunk = 1 << 20;
            ByteBuf zeroes = ByteBufAllocator.DEFAULT.buffer(chunk).writeZero(chunk);
            try {
                for (long at = offset; at < offset + length;) {
                    int n = (int) Math.min(chunk, offset + length - at);
                    write(at, zeroes.retainedSlice(0, n));
                    at += n;
                }
            } finally {
                zeroes.release();
            }
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> flush() throws IOException {
            channel.force(true);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void close() throws IOException {
            if (extents != null) {
                extents.close();
            }
            channel.close();
        }

        @Override
        public String toString() {
            return path.toString();
        }
    }

    /** stdin, stdout, a pipe or a character device: strictly sequential. */
    static final class Stream implements Source, Destination {
        private final String name;
        private final InputStream in;
        private final OutputStream out;
        private long position;

        Stream(String name, InputStream in, OutputStream out) {
            this.name = name;
            this.in = in;
            this.out = out;
        }

        @Override
        public long size() {
            return -1;
        }

        @Override
        public boolean stream() {
            return true;
        }

        @Override
        public long maxRequest() {
            return Long.MAX_VALUE;
        }

        @Override
        public CompletableFuture<ByteBuf> read(long offset, int length) throws IOException {
            // Not InputStream.readNBytes: JDK 17's FileInputStream version seeks, which fails on a pipe.
            byte[] b = new byte[length];
            int n = 0;
            while (n < length) {
                int r = in.read(b, n, length - n);
                if (r < 0) {
                    break;
                }
                n += r;
            }
            return CompletableFuture.completedFuture(io.netty.buffer.Unpooled.wrappedBuffer(b, 0, n));
        }

        @Override
        public CompletableFuture<Void> write(long offset, ByteBuf data) throws IOException {
            try {
                if (offset != position) {
                    throw new IOException(name + ": out-of-order write at " + offset + ", expected " + position);
                }
                int n = data.readableBytes();
                data.getBytes(data.readerIndex(), out, n);
                position += n;
                return CompletableFuture.completedFuture(null);
            } finally {
                data.release();
            }
        }

        @Override
        public CompletableFuture<Void> zero(long offset, long length) throws IOException {
            byte[] zeroes = new byte[(int) Math.min(length, 1 << 20)];
            for (long at = offset; at < offset + length;) {
                int n = (int) Math.min(zeroes.length, offset + length - at);
                write(at, io.netty.buffer.Unpooled.wrappedBuffer(zeroes, 0, n));
                at += n;
            }
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> flush() throws IOException {
            out.flush();
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void close() throws IOException {
            if (out != null) {
                out.flush();
            }
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /** {@code null:}: throws everything away. */
    static final class Null implements Destination {
        @Override
        public long size() {
            return -1;
        }

        /** Discarding is safe on any thread, so reads are dropped on the event loop as they complete. */
        @Override
        public boolean async() {
            return true;
        }

        @Override
        public boolean skipZeroes() {
            return true;
        }

        @Override
        public boolean discards() {
            return true;
        }

        @Override
        public CompletableFuture<Void> write(long offset, ByteBuf data) {
            data.release();
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> zero(long offset, long length) {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> flush() {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public String toString() {
            return "null:";
        }
    }

    // ---------------------------------------------------------------------------------------------- opening

    private static final int S_IFMT = 0170000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFBLK = 0060000;

    /** Opens a local file, block device, character device or FIFO for reading; errors name the file. */
    static Source openLocalSource(String name) throws IOException {
        return openLocalSource(name, false);
    }

    /**
     * Opens a local source; with {@code holes}, a sparse regular file is read only where it has data (its holes are
     * zero regions, as nbdcopy does with SEEK_DATA/SEEK_HOLE).
     */
    static Source openLocalSource(String name, boolean holes) throws IOException {
        Source s = openLocalSourceNamed(name);
        return holes && s instanceof LocalFile f ? f.skippingHoles() : s;
    }

    private static Source openLocalSourceNamed(String name) throws IOException {
        try {
            if (!name.equals("-") && Files.isDirectory(Path.of(name))) {
                throw new IOException(name + ": Is a directory");
            }
            return openLocalSource0(name);
        } catch (IOException e) {
            throw CliErrors.aboutFile(name, e);
        }
    }

    /** Opens a local file, block device, character device or FIFO for writing; errors name the file. */
    static Destination openLocalDestination(String name) throws IOException {
        try {
            if (!name.equals("-") && Files.isDirectory(Path.of(name))) {
                throw new IOException(name + ": Is a directory");
            }
            return openLocalDestination0(name);
        } catch (IOException e) {
            throw CliErrors.aboutFile(name, e);
        }
    }

    private static Source openLocalSource0(String name) throws IOException {
        if (name.equals("-")) {
            return new Stream("stdin", new java.io.FileInputStream(java.io.FileDescriptor.in), null);
        }
        Path p = Path.of(name);
        if (!Files.exists(p)) {
            throw new IOException(name + ": No such file or directory");
        }
        int mode = mode(p);
        if ((mode & S_IFMT) == S_IFREG) {
            FileChannel ch = FileChannel.open(p, java.nio.file.StandardOpenOption.READ);
            return new LocalFile(p, ch, false, ch.size(), false);
        }
        if ((mode & S_IFMT) == S_IFBLK) {
            FileChannel ch = FileChannel.open(p, java.nio.file.StandardOpenOption.READ);
            return new LocalFile(p, ch, true, blockDeviceSize(p), false);
        }
        return new Stream(name, Files.newInputStream(p), null);
    }

    /** Opens (creating if need be) a local file, block device, character device or FIFO for writing. */
    private static Destination openLocalDestination0(String name) throws IOException {
        if (name.equals("-")) {
            if (System.console() != null) {
                throw new IOException("refusing to write to tty");
            }
            return new Stream("stdout", null, new java.io.FileOutputStream(java.io.FileDescriptor.out));
        }
        Path p = Path.of(name);
        if (!Files.exists(p)) {
            FileChannel ch = FileChannel.open(p, java.nio.file.StandardOpenOption.WRITE,
                    java.nio.file.StandardOpenOption.CREATE_NEW);
            return new LocalFile(p, ch, false, 0, true);
        }
        int mode = mode(p);
        if ((mode & S_IFMT) == S_IFREG) {
            FileChannel ch = FileChannel.open(p, java.nio.file.StandardOpenOption.WRITE);
            return new LocalFile(p, ch, false, ch.size(), true);
        }
        if ((mode & S_IFMT) == S_IFBLK) {
            FileChannel ch = FileChannel.open(p, java.nio.file.StandardOpenOption.WRITE);
            return new LocalFile(p, ch, true, blockDeviceSize(p), true);
        }
        return new Stream(name, null, Files.newOutputStream(p, java.nio.file.StandardOpenOption.WRITE));
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
