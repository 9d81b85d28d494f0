package io.nbdnetty.client;

import io.nbdnetty.codec.NbdBlockStatusChunk;
import io.nbdnetty.codec.NbdCommandType;
import io.nbdnetty.codec.NbdOffsetDataChunk;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/** One request from submission to completion, with what its reply chunks have gathered. Event loop only. */
final class Request {
    final NbdCommandType type;
    final int flags;
    final long offset;
    final long length;
    final long bytes;
    final CompletableFuture<Object> future = new CompletableFuture<>();
    /** WRITE data (or block status payload) until it is handed to the channel. */
    ByteBuf payload;
    /** Where a READ goes if the caller gave a buffer; null to hand back a buffer. */
    final ByteBuf destination;
    long cookie;
    int chunks;
    long sentNanos;
    io.netty.util.concurrent.ScheduledFuture<?> timeout;

    // READ: content chunks by offset (start -> end), the data chunks kept, and the error seen.
    TreeMap<Long, Long> content;
    List<NbdOffsetDataChunk> data;
    long covered;
    // BLOCK_STATUS: chunk per context id.
    Map<Integer, NbdBlockStatusChunk> status;
    /** The first error chunk or simple error, if any. */
    NbdCommandException error;

    Request(NbdCommandType type, int flags, long offset, long length, ByteBuf payload, ByteBuf destination) {
        this.type = type;
        this.flags = flags;
        this.offset = offset;
        this.length = length;
        this.payload = payload;
        this.destination = destination;
        this.bytes = type.equals(NbdCommandType.READ) ? length : payload != null ? payload.readableBytes() : 0;
    }

    void keep(NbdOffsetDataChunk chunk) {
        if (data == null) {
            data = new ArrayList<>(2);
        }
        data.add(chunk);
    }

    /** Releases everything the request holds. */
    void releaseAll() {
        if (payload != null) {
            ReferenceCountUtil.safeRelease(payload);
            payload = null;
        }
        if (data != null) {
            for (NbdOffsetDataChunk c : data) {
                ReferenceCountUtil.safeRelease(c);
            }
            data = null;
        }
    }
}
