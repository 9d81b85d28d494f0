package io.nbdnetty.examples.server;

import io.nbdnetty.codec.NbdStateFlags;
import io.netty.buffer.ByteBuf;

import java.util.Arrays;

/**
 * A sparse export held in memory: storage is allocated lazily in fixed-size chunks on first write, so a large export
 * costs nothing until written. Trimming, or writing zeroes without {@code NBD_CMD_FLAG_NO_HOLE}, frees whole chunks.
 *
 * <p>Allocation is tracked per chunk, so {@code base:allocation} is meaningful: a never-written (or freed) chunk is
 * reported as {@code HOLE|ZERO}; a written chunk as allocated data (status 0), even if zeroes were written to it.
 *
 * <p>Thread-safe: every call holds the export's lock, so writes are visible to every connection at once (the server
 * may advertise multi-conn). Never blocks on I/O.
 */
public final class MemoryExport implements NbdExport {
    /** The default allocation chunk: 64 KiB. */
    public static final int DEFAULT_CHUNK_SIZE = 64 * 1024;

    private final long size;
    private final int chunkSize;
    private final int shift;
    private final byte[][] chunks;
    private int allocatedChunks;

    /**
     * Creates an empty (all-zero, unallocated) export with the default chunk size.
     *
     * @param size the size in bytes
     */
    public MemoryExport(long size) {
        this(size, DEFAULT_CHUNK_SIZE);
    }

    /**
     * Creates an empty (all-zero, unallocated) export.
     *
     * @param size the size in bytes, not negative
     * @param chunkSize the allocation unit: a power of two from 512 to 16 MiB
     * @throws IllegalArgumentException if a value is out of range, or the export would need more than 2^31 - 16
     *     chunks
     */
    public MemoryExport(long size, int chunkSize) {
        if (size < 0) {
            throw new IllegalArgumentException("size must not be negative: " + size);
        }
        if (chunkSize < 512 || chunkSize > 16 * 1024 * 1024 || Integer.bitCount(chunkSize) != 1) {
            throw new IllegalArgumentException("chunkSize must be a power of two from 512 to 16 MiB: " + chunkSize);
        }
        long count = size / chunkSize + (size % chunkSize != 0 ? 1 : 0);
        if (count > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("size " + size + " needs too many chunks of " + chunkSize + " bytes");
        }
        this.size = size;
        this.chunkSize = chunkSize;
        this.shift = Integer.numberOfTrailingZeros(chunkSize);
        this.chunks = new byte[(int) count][];
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    /**
     * Returns the allocation unit.
     *
     * @return the chunk size in bytes
     */
    public int chunkSize() {
        return chunkSize;
    }

    /**
     * Returns how much memory the written data occupies.
     *
     * @return allocated bytes, a multiple of the chunk size
     */
    public synchronized long allocatedBytes() {
        return (long) allocatedChunks * chunkSize;
    }

    @Override
    public synchronized void read(long offset, int length, ByteBuf dst) {
        dst.ensureWritable(length);
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int index = (int) (pos >>> shift);
            int within = (int) (pos & (chunkSize - 1));
            int n = (int) Math.min(end - pos, chunkSize - within);
            byte[] chunk = chunks[index];
            if (chunk == null) {
                dst.writeZero(n);
            } else {
                dst.writeBytes(chunk, within, n);
            }
            pos += n;
        }
    }

    @Override
    public synchronized void write(long offset, ByteBuf src, boolean fua) {
        int srcIndex = src.readerIndex();
        long pos = offset;
        long end = offset + src.readableBytes();
        while (pos < end) {
            int index = (int) (pos >>> shift);
            int within = (int) (pos & (chunkSize - 1));
            int n = (int) Math.min(end - pos, chunkSize - within);
            src.getBytes(srcIndex, allocate(index), within, n);
            srcIndex += n;
            pos += n;
        }
    }

    @Override
    public void flush() {
        // Memory is as durable as it gets.
    }

    @Override
    public synchronized void trim(long offset, long length, boolean fua) {
        zero(offset, length, true);
    }

    @Override
    public synchronized void writeZeroes(long offset, long length, boolean mayDeallocate, boolean fua) {
        zero(offset, length, mayDeallocate);
    }

    @Override
    public boolean canFastZero() {
        return true;
    }

    private void zero(long offset, long length, boolean deallocate) {
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int index = (int) (pos >>> shift);
            long chunkStart = (long) index << shift;
            long chunkEnd = Math.min(chunkStart + chunkSize, size);
            int within = (int) (pos - chunkStart);
            int n = (int) (Math.min(end, chunkEnd) - pos);
            boolean whole = pos == chunkStart && pos + n == chunkEnd;
            if (whole && deallocate) {
                if (chunks[index] != null) {
                    chunks[index] = null;
                    allocatedChunks--;
                }
            } else if (!deallocate) {
                // NO_HOLE: the range must end up allocated; a fresh chunk is already zero.
                byte[] chunk = chunks[index];
                if (chunk == null) {
                    allocate(index);
                } else {
                    Arrays.fill(chunk, within, within + n, (byte) 0);
                }
            } else if (chunks[index] != null) {
                Arrays.fill(chunks[index], within, within + n, (byte) 0);
            }
            pos += n;
        }
    }

    private byte[] allocate(int index) {
        byte[] chunk = chunks[index];
        if (chunk == null) {
            chunk = new byte[chunkSize];
            chunks[index] = chunk;
            allocatedChunks++;
        }
        return chunk;
    }

    @Override
    public synchronized long[] blockStatus(long offset, long length, int maxExtents) {
        long[] out = new long[2 * Math.min(maxExtents, 64)];
        int count = 0;
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int index = (int) (pos >>> shift);
            long chunkEnd = Math.min(((long) index << shift) + chunkSize, end);
            long status = chunks[index] == null ? NbdStateFlags.HOLE | NbdStateFlags.ZERO : 0;
            long n = chunkEnd - pos;
            if (count > 0 && out[2 * count - 1] == status) {
                out[2 * count - 2] += n;
            } else if (count == maxExtents) {
                break;
            } else {
                if (2 * count == out.length) {
                    out = Arrays.copyOf(out, out.length * 2);
                }
                out[2 * count] = n;
                out[2 * count + 1] = status;
                count++;
            }
            pos += n;
        }
        return Arrays.copyOf(out, 2 * count);
    }

    @Override
    public String toString() {
        return "MemoryExport[size=" + size + ", chunkSize=" + chunkSize + "]";
    }
}
