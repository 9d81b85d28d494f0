package io.nbdnetty.examples.server;

import io.netty.buffer.ByteBuf;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An export backed by a file (or a block device) through a {@link FileChannel}, with positional reads and writes.
 * The size is the file's size when opened. Allocation is not inspected: {@code base:allocation} reports everything as
 * allocated data. Trim is accepted and ignored; write zeroes writes zeroes (so it is not "fast").
 *
 * <p>Thread-safe ({@code FileChannel} positional I/O is). Calls block, so the server runs them on a thread pool.
 */
public final class FileExport implements NbdExport {
    private static final int ZERO_BUFFER_SIZE = 64 * 1024;
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(ZERO_BUFFER_SIZE).asReadOnlyBuffer();

    private final Path path;
    private final FileChannel channel;
    private final boolean readOnly;
    private final long size;

    /**
     * Opens a file.
     *
     * @param path the file; it must exist
     * @param readOnly true to open it read-only (and refuse writes)
     * @throws IOException if it cannot be opened
     */
    public FileExport(Path path, boolean readOnly) throws IOException {
        this.path = path;
        this.readOnly = readOnly;
        this.channel = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            this.size = channel.size();
        } catch (IOException e) {
            channel.close();
            throw e;
        }
    }

    /**
     * Returns the file.
     *
     * @return the path
     */
    public Path path() {
        return path;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public boolean isBlocking() {
        return true;
    }

    @Override
    public void read(long offset, int length, ByteBuf dst) throws IOException {
        dst.ensureWritable(length);
        int done = 0;
        while (done < length) {
            int n = dst.writeBytes(channel, offset + done, length - done);
            if (n < 0) {
                throw new EOFException("end of " + path + " at offset " + (offset + done)
                        + " (the file shrank below the export size " + size + ")");
            }
            done += n;
        }
    }

    @Override
    public void write(long offset, ByteBuf src, boolean fua) throws IOException {
        int index = src.readerIndex();
        int length = src.readableBytes();
        int done = 0;
        while (done < length) {
            done += src.getBytes(index + done, channel, offset + done, length - done);
        }
        if (fua) {
            channel.force(false);
        }
    }

    @Override
    public void flush() throws IOException {
        channel.force(true);
    }

    @Override
    public void trim(long offset, long length, boolean fua) {
        // Advisory: the data may stay as it is.
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayDeallocate, boolean fua) throws IOException {
        long done = 0;
        while (done < length) {
            ByteBuffer zeroes = ZEROES.duplicate();
            zeroes.limit((int) Math.min(ZERO_BUFFER_SIZE, length - done));
            while (zeroes.hasRemaining()) {
                done += channel.write(zeroes, offset + done);
            }
        }
        if (fua) {
            channel.force(false);
        }
    }

    @Override
    public boolean canFastZero() {
        return false;
    }

    @Override
    public long[] blockStatus(long offset, long length, int maxExtents) {
        return new long[] {length, 0};
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    @Override
    public String toString() {
        return "FileExport[" + path + (readOnly ? ", read-only" : "") + ", size=" + size + "]";
    }
}
