package io.nbdnetty.client;

import io.netty.buffer.ByteBuf;

import java.util.concurrent.CompletableFuture;

/**
 * The commands of the transmission phase, as one connection ({@link NbdConnection}) or a pool of connections to one
 * export ({@link io.nbdnetty.client.device.NbdConnectionPool}) offer them. Ownership and errors are as documented on
 * {@link NbdConnection}.
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
     * NBD_CMD_BLOCK_STATUS for some of the negotiated metadata contexts only (libnbd's {@code block_status_filter}):
     * the answer has extents for exactly these contexts. {@link NbdConnection} sends the filter to a server that
     * advertises {@link NbdExportInfo#canBlockStatusPayload()}, so that it computes and sends only those; this
     * default asks for every context and drops the others from the answer.
     *
     * @param offset start
     * @param length length
     * @param flags command flags
     * @param contexts the context names wanted, each negotiated; not empty
     * @return the extents of the wanted contexts
     */
    default CompletableFuture<NbdBlockStatus> blockStatus(long offset, long length, int flags,
            java.util.Set<String> contexts) {
        java.util.Objects.requireNonNull(contexts, "contexts");
        if (contexts.isEmpty()) {
            throw new IllegalArgumentException("a block status filter needs at least one metadata context");
        }
        return blockStatus(offset, length, flags).thenApply(s -> {
            java.util.Map<String, java.util.List<NbdExtent>> kept = new java.util.LinkedHashMap<>();
            s.extentsByContext().forEach((name, extents) -> {
                if (contexts.contains(name)) {
                    kept.put(name, extents);
                }
            });
            return new NbdBlockStatus(s.offset(), kept);
        });
    }

    /**
     * Soft disconnect of every connection.
     *
     * @return completes when closed
     */
    CompletableFuture<Void> disconnect();

    /**
     * The largest READ or WRITE this device sends in one request: the server's maximum block size (32 MiB where it
     * advertised none), rounded down to its minimum block size.
     *
     * @return the size in bytes
     */
    default int maxRequestLength() {
        NbdExportInfo info = exportInfo();
        long max = Math.min(info.maximumBlockSize(), Integer.MAX_VALUE - 8);
        long min = Math.max(1, info.minimumBlockSize());
        return (int) Math.max(min, max / min * min);
    }

    /**
     * NBD_CMD_READ of a range of any length, split where the caller asks for it: as many requests of at most {@link
     * #maxRequestLength()} bytes as it takes, all in flight at once (within the connection's caps), joined in order.
     *
     * @param offset where
     * @param length how many bytes
     * @param flags command flags for every request
     * @return the data, which the caller releases (a composite of the pieces when there are several); fails with
     *     the first piece's error, and then holds nothing
     */
    default CompletableFuture<ByteBuf> readSplit(long offset, int length, int flags) {
        int max = maxRequestLength();
        if (length <= max) {
            return read(offset, length, flags);
        }
        java.util.List<CompletableFuture<ByteBuf>> pieces = new java.util.ArrayList<>();
        for (long at = 0; at < length; at += max) {
            pieces.add(read(offset + at, (int) Math.min(max, length - at), flags));
        }
        return CompletableFuture.allOf(pieces.toArray(CompletableFuture[]::new)).handle((x, e) -> {
            if (e != null) {
                for (CompletableFuture<ByteBuf> p : pieces) {
                    p.thenAccept(ByteBuf::release);
                }
                throw e instanceof java.util.concurrent.CompletionException c ? c
                        : new java.util.concurrent.CompletionException(e);
            }
            io.netty.buffer.CompositeByteBuf joined = io.netty.buffer.ByteBufAllocator.DEFAULT
                    .compositeBuffer(pieces.size());
            for (CompletableFuture<ByteBuf> p : pieces) {
                joined.addComponent(true, p.join());
            }
            return joined;
        });
    }

    /**
     * NBD_CMD_WRITE of a buffer of any length, split where the caller asks for it into requests of at most {@link
     * #maxRequestLength()} bytes, all in flight at once. The device takes ownership of the buffer.
     *
     * @param offset where
     * @param data the data (released by the device)
     * @param flags command flags for every request
     * @return completes when every piece is acknowledged; fails with the first error
     */
    default CompletableFuture<Void> writeSplit(long offset, ByteBuf data, int flags) {
        int max = maxRequestLength();
        int length = data.readableBytes();
        if (length <= max) {
            return write(offset, data, flags);
        }
        java.util.List<CompletableFuture<Void>> pieces = new java.util.ArrayList<>();
        try {
            for (int at = 0; at < length; at += max) {
                int n = Math.min(max, length - at);
                pieces.add(write(offset + at, data.retainedSlice(data.readerIndex() + at, n), flags));
            }
        } finally {
            data.release();
        }
        return CompletableFuture.allOf(pieces.toArray(CompletableFuture[]::new));
    }
}
