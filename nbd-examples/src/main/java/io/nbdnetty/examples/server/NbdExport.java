package io.nbdnetty.examples.server;

import io.netty.buffer.ByteBuf;

import java.io.Closeable;
import java.io.IOException;

/**
 * The storage behind one export of an {@link NbdServer}: a byte array of fixed {@link #size()} that connections read,
 * write and query. Implementations must be safe to call from several threads at once (one connection per thread,
 * several connections per export when the server advertises multi-conn), and a completed write, flush or trim must be
 * visible to every later call from any thread.
 *
 * <p>The server checks every request before calling: offsets and lengths are within {@code [0, size()]}, writes only
 * reach a writable export, lengths of reads and writes fit the advertised maximum payload. Errors are reported by
 * throwing {@link IOException} (the client sees {@code NBD_EIO} with the exception's message).
 *
 * @see MemoryExport
 * @see FileExport
 */
public interface NbdExport extends Closeable {
    /**
     * Returns the size of the export in bytes; constant for the life of the export.
     *
     * @return the size
     */
    long size();

    /**
     * Whether the export refuses writes (the server then advertises {@code NBD_FLAG_READ_ONLY}).
     *
     * @return true if read-only
     */
    boolean isReadOnly();

    /**
     * Whether calls may block on I/O. The server runs calls to a blocking export on a small thread pool instead of on
     * its event loop.
     *
     * @return true if calls may block
     */
    default boolean isBlocking() {
        return false;
    }

    /**
     * Reads {@code length} bytes at {@code offset} and writes them to {@code dst} (whose writer index advances by
     * {@code length}). Unallocated ranges read as zeroes.
     *
     * @param offset where to start
     * @param length how many bytes, at most {@code size() - offset}
     * @param dst where to put them; the caller owns it
     * @throws IOException if the read fails
     */
    void read(long offset, int length, ByteBuf dst) throws IOException;

    /**
     * Writes the readable bytes of {@code src} at {@code offset}; {@code src} is neither consumed nor released.
     *
     * @param offset where to start
     * @param src the data; the caller owns it
     * @param fua true if the data must be on stable storage when this returns ({@code NBD_CMD_FLAG_FUA})
     * @throws IOException if the write fails
     */
    void write(long offset, ByteBuf src, boolean fua) throws IOException;

    /**
     * Makes every completed write durable ({@code NBD_CMD_FLUSH}).
     *
     * @throws IOException if the flush fails
     */
    void flush() throws IOException;

    /**
     * Discards a range ({@code NBD_CMD_TRIM}): the data there becomes unspecified, and may be deallocated.
     *
     * @param offset where to start
     * @param length how many bytes
     * @param fua true if the effect must be durable when this returns
     * @throws IOException if the trim fails
     */
    void trim(long offset, long length, boolean fua) throws IOException;

    /**
     * Writes zeroes over a range ({@code NBD_CMD_WRITE_ZEROES}).
     *
     * @param offset where to start
     * @param length how many bytes
     * @param mayDeallocate false if the range must stay allocated ({@code NBD_CMD_FLAG_NO_HOLE})
     * @param fua true if the effect must be durable when this returns
     * @throws IOException if the write fails
     */
    void writeZeroes(long offset, long length, boolean mayDeallocate, boolean fua) throws IOException;

    /**
     * Whether {@link #writeZeroes} is faster than writing zeroes with {@link #write}; if not, requests with {@code
     * NBD_CMD_FLAG_FAST_ZERO} fail with {@code NBD_ENOTSUP} without doing anything.
     *
     * @return true if zeroing is fast
     */
    boolean canFastZero();

    /**
     * Hints that a range will be read soon ({@code NBD_CMD_CACHE}). The default does nothing.
     *
     * @param offset where to start
     * @param length how many bytes
     * @throws IOException if prefetching fails
     */
    default void cache(long offset, long length) throws IOException {
    }

    /**
     * Describes the allocation of a range in {@code base:allocation} terms: consecutive extents starting at {@code
     * offset}, as length and status pairs, status being {@link io.nbdnetty.codec.NbdStateFlags} bits ({@code HOLE},
     * {@code ZERO}, or 0 for allocated data).
     *
     * <p>The extents cover at most {@code length} bytes, each has a nonzero length, and there is at least one; they
     * may cover less than {@code length} if {@code maxExtents} is reached.
     *
     * @param offset where to start, less than {@code size()}
     * @param length how many bytes to describe, nonzero, at most {@code size() - offset}
     * @param maxExtents the most extents to return, at least 1
     * @return length and status pairs
     * @throws IOException if the allocation cannot be determined
     */
    long[] blockStatus(long offset, long length, int maxExtents) throws IOException;

    /**
     * Releases what the export holds. The default does nothing.
     *
     * @throws IOException if closing fails
     */
    @Override
    default void close() throws IOException {
    }
}
