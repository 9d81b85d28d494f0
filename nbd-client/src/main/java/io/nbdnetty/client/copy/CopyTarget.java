package io.nbdnetty.client.copy;

import io.netty.buffer.ByteBuf;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;

/**
 * Where a {@link Copier} writes to. A synchronous target ({@link #async()} false) is written from the copying thread
 * only, in the order of the source; an asynchronous one (NBD, or one that throws data away) is written from whatever
 * thread completes the read, an event loop included, so its writes must not block.
 */
public interface CopyTarget extends AutoCloseable {
    /**
     * Returns the size.
     *
     * @return the size in bytes, or -1 when it grows with the copy
     */
    long size();

    /**
     * Whether writes may be issued from event loop callbacks (they never block).
     *
     * @return false by default
     */
    default boolean async() {
        return false;
    }

    /**
     * Whether a zero region may simply be skipped: a file emptied and extended for the copy, or a target that throws
     * everything away.
     *
     * @return false by default
     */
    default boolean skipZeroes() {
        return false;
    }

    /**
     * Whether zeroing is cheap here (NBD WRITE_ZEROES), so that blocks of zeroes found in the data are worth sending
     * as zero ranges.
     *
     * @return false by default
     */
    default boolean zeroesCheaply() {
        return false;
    }

    /**
     * Whether data is thrown away like zeroes, so that looking for zero blocks in it would only cost time.
     *
     * @return false by default
     */
    default boolean discards() {
        return false;
    }

    /**
     * Returns the largest write the target takes.
     *
     * @return bytes; unbounded by default
     */
    default long maxRequest() {
        return Long.MAX_VALUE;
    }

    /**
     * Called once before anything is written: a regular file target sets its size here.
     *
     * @param sourceSize the source's size (0 for a stream)
     * @throws IOException if that fails
     */
    default void prepare(long sourceSize) throws IOException {
    }

    /**
     * Writes the buffer's readable bytes at an offset and releases the buffer.
     *
     * @param offset where
     * @param data the data, owned by the target from now on
     * @return completes when written
     * @throws IOException if a synchronous write fails
     */
    CompletableFuture<Void> write(long offset, ByteBuf data) throws IOException;

    /**
     * Makes a range read as zeroes (splitting it into requests the target takes).
     *
     * @param offset where
     * @param length how much
     * @return completes when done
     * @throws IOException if a synchronous write fails
     */
    CompletableFuture<Void> zero(long offset, long length) throws IOException;

    /**
     * Called after a stream source ended, with the bytes copied: a regular file sets its final size here.
     *
     * @param copied the bytes copied
     * @throws IOException if that fails
     */
    default void finish(long copied) throws IOException {
    }

    /**
     * Makes what was written durable (NBD FLUSH where the server takes it, {@code fsync} for a file).
     *
     * @return completes when done
     * @throws IOException if a synchronous flush fails
     */
    CompletableFuture<Void> flush() throws IOException;

    /**
     * Releases what the target holds; by default nothing.
     *
     * @throws IOException if closing fails
     */
    @Override
    default void close() throws IOException {
    }
}
