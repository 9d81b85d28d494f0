package io.nbdnetty.client.copy;

import java.util.List;

/**
 * Where a local file has data and where it has holes, plugged into a {@link FileEndpoint} source so that only its
 * data is read (the JDK cannot ask; the {@code nbd} CLI implements this with {@code lseek(SEEK_DATA/SEEK_HOLE)}).
 * Used from the copying thread only.
 */
public interface HoleMap extends AutoCloseable {
    /**
     * Describes {@code [offset, offset + length)} as data and hole regions, covering it exactly, in order.
     *
     * @param offset where to start
     * @param length how much
     * @return the regions; a hole is a region with {@code zero} set
     */
    List<Region> regions(long offset, long length);

    /** Releases what the map holds (a file descriptor, say); never throws. */
    @Override
    void close();
}
