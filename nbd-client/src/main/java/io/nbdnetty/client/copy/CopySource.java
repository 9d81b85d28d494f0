package io.nbdnetty.client.copy;

import io.netty.buffer.ByteBuf;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Where a {@link Copier} reads from. Implementations say whether they are used from one thread only; the copier calls
 * {@link #regions} and {@link #read} from the thread that runs {@link Copier#copy}.
 */
public interface CopySource extends AutoCloseable {
    /**
     * Returns the size.
     *
     * @return the size in bytes, or -1 for a stream whose end is known only at its end
     */
    long size();

    /**
     * Whether reads must be sequential (a pipe): the copier then reads it to its end, in order, without regions.
     *
     * @return true for a stream; by default when the size is unknown
     */
    default boolean stream() {
        return size() < 0;
    }

    /**
     * Returns the largest read the source takes.
     *
     * @return bytes; unbounded by default
     */
    default long maxRequest() {
        return Long.MAX_VALUE;
    }

    /**
     * Describes {@code [offset, offset + length)} as data and zero regions, in order. Ranges left out are left alone
     * on the target (neither copied nor zeroed), which an incremental backup uses for clean ranges.
     *
     * @param offset where to start
     * @param length how much
     * @return the regions; by default one data region covering it all
     * @throws Exception if the source cannot be asked
     */
    default List<Region> regions(long offset, long length) throws Exception {
        return List.of(new Region(offset, length, false));
    }

    /**
     * Reads. A stream source reads its next bytes ({@code offset} is where they land) and may return fewer at its
     * end, or an empty buffer there.
     *
     * @param offset where
     * @param length how much
     * @return completes with the data, owned by the caller
     * @throws IOException if a synchronous read fails
     */
    CompletableFuture<ByteBuf> read(long offset, int length) throws IOException;

    /**
     * Releases what the source holds; by default nothing.
     *
     * @throws IOException if closing fails
     */
    @Override
    default void close() throws IOException {
    }
}
