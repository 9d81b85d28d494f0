package io.nbdnetty.client;

import io.netty.buffer.ByteBuf;

import java.util.concurrent.CompletableFuture;

/**
 * The commands of the transmission phase, as one connection ({@link NbdConnection}) or a pool of connections to one
 * export ({@link NbdConnectionPool}) offer them. Ownership and errors are as documented on {@link NbdConnection}.
 */
public interface NbdBlockDevice {
    /**
     * Returns what the server said about the export.
     *
     * @return the export information
     */
    NbdExportInfo exportInfo();

    /**
     * Returns the export size in bytes.
     *
     * @return the size
     */
    default long size() {
        return exportInfo().size();
    }

    /**
     * NBD_CMD_READ into a new buffer that the caller releases.
     *
     * @param offset where
     * @param length how many bytes
     * @param flags command flags
     * @return the data
     */
    CompletableFuture<ByteBuf> read(long offset, int length, int flags);

    /**
     * NBD_CMD_WRITE; the device takes ownership of the buffer.
     *
     * @param offset where
     * @param data the data
     * @param flags command flags
     * @return completes when acknowledged
     */
    CompletableFuture<Void> write(long offset, ByteBuf data, int flags);

    /**
     * NBD_CMD_FLUSH.
     *
     * @return completes when flushed
     */
    CompletableFuture<Void> flush();

    /**
     * NBD_CMD_TRIM.
     *
     * @param offset start
     * @param length length
     * @param flags command flags
     * @return completes when done
     */
    CompletableFuture<Void> trim(long offset, long length, int flags);

    /**
     * NBD_CMD_WRITE_ZEROES.
     *
     * @param offset start
     * @param length length
     * @param flags command flags
     * @return completes when done
     */
    CompletableFuture<Void> writeZeroes(long offset, long length, int flags);

    /**
     * NBD_CMD_CACHE.
     *
     * @param offset start
     * @param length length
     * @return completes when done
     */
    CompletableFuture<Void> cache(long offset, long length);

    /**
     * NBD_CMD_BLOCK_STATUS.
     *
     * @param offset start
     * @param length length
     * @param flags command flags
     * @return the extents per context
     */
    CompletableFuture<NbdBlockStatus> blockStatus(long offset, long length, int flags);

    /**
     * Soft disconnect of every connection.
     *
     * @return completes when closed
     */
    CompletableFuture<Void> disconnect();
}
