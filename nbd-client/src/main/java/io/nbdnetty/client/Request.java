package io.nbdnetty.client;

import io.nbdnetty.codec.NbdBlockStatusChunk;
import io.nbdnetty.codec.NbdCommandType;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;

import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One request from submission to completion, with what its reply chunks have gathered; it is also the future the
 * caller gets (one object per request instead of two). Fields: event loop only.
 */
@SuppressWarnings("serial")
final class Request extends CompletableFuture<Object> {
    final NbdCommandType type;
    final int flags;
    final long offset;
    final long length;
    final long bytes;
    /** WRITE data (or block status payload) until it is handed to the channel. */
    ByteBuf payload;
    /** Where a READ goes if the caller gave a buffer; null to hand back a buffer. */
    final ByteBuf destination;
    long cookie;
    int chunks;
    long sentNanos;
    io.netty.util.concurrent.ScheduledFuture<?> timeout;

    // READ: the content chunks seen so far (see NbdConnection.content): the first one's range and retained data
    // (null for a hole), then, from the second on, the coverage bitmap and the assembly buffer (or, for a caller's
    // destination, where in it the READ starts).
    int contentChunks;
    int firstFrom;
    int firstTo;
    ByteBuf first;
    java.util.BitSet coverage;
    ByteBuf assembled;
    int destinationBase;
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

    /** Releases everything the request holds. */
    void releaseAll() {
        if (payload != null) {
            ReferenceCountUtil.safeRelease(payload);
            payload = null;
        }
        if (first != null) {
            ReferenceCountUtil.safeRelease(first);
            first = null;
        }
        if (assembled != null) {
            ReferenceCountUtil.safeRelease(assembled);
            assembled = null;
        }
    }
}
