package io.nbdnetty.client.copy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * A regular file or a block device as either end of a copy, read and written at offsets through a
 * {@link FileChannel}; synchronous, so used from the copying thread only (not thread-safe).
 *
 * <p>Three roles: a {@linkplain #source source} (its holes, when a {@link HoleMap} is given, are zero regions that are
 * not read); a {@linkplain #replacing replacing target}, emptied and extended to the source's size before the copy,
 * where zero regions are skipped and stay holes; an {@linkplain #inPlace in-place target} (a block device, or a
 * previous copy updated by an incremental backup) whose size is left alone and whose zero regions are written as
 * zeroes. {@link #close()} closes the channel and the hole map.
 */
public final class FileEndpoint implements CopySource, CopyTarget {
    private final Path path;
    private final FileChannel channel;
    private final boolean replacing;
    private long size;
    private HoleMap holes;

    private FileEndpoint(Path path, FileChannel channel, long size, boolean replacing) {
        this.path = path;
        this.channel = Objects.requireNonNull(channel, "channel");
        this.size = size;
        this.replacing = replacing;
    }

    /**
     * A file or block device to read.
     *
     * @param path its name, for messages
     * @param channel open for reading
     * @param size its size (a block device's size must be found elsewhere)
     * @return the endpoint; every byte is read unless {@link #holes} is set
     */
    public static FileEndpoint source(Path path, FileChannel channel, long size) {
        return new FileEndpoint(Objects.requireNonNull(path, "path"), channel, size, false);
    }

    /**
     * A regular file the copy replaces: emptied, then extended to the source's size, so zero regions are skipped.
     *
     * @param path its name, for messages and for setting its size without writing; null if only the channel is known
     * @param channel open for writing
     * @return the endpoint
     */
    public static FileEndpoint replacing(Path path, FileChannel channel) {
        return new FileEndpoint(path, channel, 0, true);
    }

    /**
     * A block device or file written in place: its size is kept, zero regions are written as zeroes.
     *
     * @param path its name, for messages; may be null
     * @param channel open for writing
     * @param size its size
     * @return the endpoint
     */
    public static FileEndpoint inPlace(Path path, FileChannel channel, long size) {
        return new FileEndpoint(path, channel, size, false);
    }

    /**
     * Reads only the data of a sparse source file: the map's holes become zero regions.
     *
     * @param map where the file has holes, or null to read everything; closed with this endpoint
     * @return this endpoint
     */
    public FileEndpoint holes(HoleMap map) {
        this.holes = map;
        return this;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean stream() {
        return false;
    }

    @Override
    public long maxRequest() {
        return Long.MAX_VALUE;
    }

    @Override
    public List<Region> regions(long offset, long length) {
        return holes != null ? holes.regions(offset, length) : List.of(new Region(offset, length, false));
    }

    @Override
    public boolean skipZeroes() {
        // Emptied then extended before the copy, so unwritten ranges are holes of zeroes.
        return replacing;
    }

    @Override
    public void prepare(long sourceSize) throws IOException {
        if (replacing) {
            channel.truncate(0);
            if (sourceSize > 0) {
                extend(sourceSize);
            }
            size = sourceSize;
        }
    }

    private void extend(long newSize) throws IOException {
        if (path == null) {
            // Only the channel: the last byte reads as zero whatever the copy writes there later.
            channel.write(ByteBuffer.allocate(1), newSize - 1);
            return;
        }
        // Writing one byte at the end would allocate a block; RandomAccessFile.setLength is ftruncate.
        try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "rw")) {
            raf.setLength(newSize);
        }
    }

    @Override
    public void finish(long copied) throws IOException {
        if (replacing && channel.size() != copied) {
            if (copied < channel.size()) {
                channel.truncate(copied);
            } else if (copied > 0) {
                extend(copied);
            }
        }
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) throws IOException {
        ByteBuf buf = ByteBufAllocator.DEFAULT.buffer(length);
        try {
            while (buf.readableBytes() < length) {
                int n = buf.writeBytes(channel, offset + buf.readableBytes(), length - buf.readableBytes());
                if (n < 0) {
                    throw new IOException(this + ": unexpected end of file at offset "
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
        if (holes != null) {
            holes.close();
        }
        channel.close();
    }

    @Override
    public String toString() {
        return path != null ? path.toString() : "the file";
    }
}
