package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdCommandException;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdReadCallback;
import io.nbdnetty.codec.NbdBlockStatusChunk;
import io.nbdnetty.codec.NbdCommandType;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;

import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One request from submission to completion, with what its reply chunks have gathered; it is also the future the
 * caller gets (one object per request instead of two). Fields: event loop only.
 *
 * @param <T> what the request's future completes with ({@code ByteBuf} for a READ into a new buffer, {@link
 *            NbdBlockStatus} for BLOCK_STATUS, {@code Void} for the rest)
 */
@SuppressWarnings("serial")
public class Request<T> extends CompletableFuture<T> {
    /** The type of the value the future completes with: the reply assembler's values are checked against it. */
    private final Class<T> resultType;
    // Not final: a CallbackRead is reused (see TransmissionHandler.recycle).
    NbdCommandType type;
    int flags;
    long offset;
    long length;
    long cookie;
    int chunks;
    /**
     * WRITE: its data until it is handed to the channel; READ: where the data goes if the caller gave a buffer,
     * null to hand back a buffer (see {@link #takePayload()} and {@link #destination()}).
     */
    private ByteBuf buffer;
    /** When it was sent and its timer: only if a listener or a request timeout needs them. */
    private Timing timing;

    /** What a reply that is not the common case gathers; null until needed (most replies never need it). */
    private Assembly assembly;

    /** When a request was sent, and whether its timeout has passed (see {@code RequestTimeouts.sweepTimeouts}). */
    static final class Timing {
        long sentNanos;
        boolean expired;
    }

    /**
     * What a reply gathers beyond one simple reply or one DONE chunk: kept apart so that the common request stays
     * small (it is allocated per request).
     */
    static final class Assembly {
        // READ: the content chunks seen so far (see ReplyAssembler.content): the first one's range and retained data
        // (null for a hole), then, from the second on, the coverage bitmap and the assembly buffer (or, for a
        // caller's destination, where in it the READ starts).
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
        /**
         * BLOCK_STATUS with a filter: the contexts asked for, in negotiation order (null: every context), and whether
         * the filter went to the server (else it answers for every context and the others are dropped).
         */
        java.util.List<NbdMetaContext> asked;
        boolean filterSent;
        // BLOCK_STATUS: extents in the chunks so far, all contexts (bounded by maxBlockStatusExtents).
        long extents;
        // Error chunks so far (bounded: a reply of error chunks without DONE must not go on for ever).
        int errorChunks;
        /** The first error chunk or simple error, if any. */
        NbdCommandException error;
    }

    /**
     * A request.
     *
     * @param resultType what its future completes with
     * @param type the command
     * @param flags the command flags
     * @param offset the offset
     * @param length the length
     * @param payload a WRITE's data (owned by the request from now on), else null
     * @param destination where a READ's data goes (the caller's buffer), or null
     */
    public Request(Class<T> resultType, NbdCommandType type, int flags, long offset, long length, ByteBuf payload,
            ByteBuf destination) {
        this.resultType = resultType;
        this.type = type;
        this.flags = flags;
        this.offset = offset;
        this.length = length;
        this.buffer = payload != null ? payload : destination;
    }

    /**
     * A READ that completes a caller's {@link NbdReadCallback} instead of the future; pooled per connection and
     * reused once finished (out of the in-flight map and the queue, and its callback called).
     */
    static final class CallbackRead extends Request<ByteBuf> {
        NbdReadCallback callback;
        /** The callback has been called (data, error or timeout): anything later is dropped. */
        boolean delivered;

        CallbackRead(long offset, long length, int flags, NbdReadCallback callback) {
            super(ByteBuf.class, NbdCommandType.READ, flags, offset, length, null, null);
            this.callback = callback;
        }

        /** Makes a finished request a new one. */
        void reuse(long offset, long length, int flags, NbdReadCallback callback) {
            this.offset = offset;
            this.length = length;
            this.flags = flags;
            this.callback = callback;
        }

        /** Forgets everything of its last use; the caller has released what it held. */
        void clear() {
            callback = null;
            delivered = false;
            cookie = 0;
            chunks = 0;
            clearState();
        }
    }

    /** Drops the per-use state (the buffers in it already released). */
    /**
     * Completes the future with a value of the reply assembler, checked against the request's result type.
     *
     * @param value the value (null for none)
     * @return whether this completed the future
     */
    final boolean completeWith(Object value) {
        return complete(resultType.cast(value));
    }

    /**
     * Makes a BLOCK_STATUS ask for these contexts only.
     *
     * @param asked the contexts asked for
     * @param sent whether the filter goes to the server (extended headers and the server's support), or is only
     *             applied to the reply here
     */
    public final void filter(java.util.List<NbdMetaContext> asked, boolean sent) {
        a().asked = asked;
        a().filterSent = sent;
    }

    final void clearState() {
        assembly = null;
        timing = null;
    }

    /** The caller's destination of a READ, or null. */
    ByteBuf destination() {
        return type.equals(NbdCommandType.READ) ? buffer : null;
    }

    /** Hands over the data of a WRITE (null for other commands, or once taken). */
    ByteBuf takePayload() {
        if (type.equals(NbdCommandType.READ)) {
            return null;
        }
        ByteBuf p = buffer;
        buffer = null;
        return p;
    }

    /** The timing, created on first use. */
    Timing timing() {
        Timing t = timing;
        if (t == null) {
            t = new Timing();
            timing = t;
        }
        return t;
    }

    /** The timing, or null if nobody asked for it (no listener, no timeout). */
    Timing timingOrNull() {
        return timing;
    }

    /** When the request was sent, or 0 if it was not or nobody asked (no listener, no timeout). */
    long sentNanos() {
        return timing == null ? 0 : timing.sentNanos;
    }

    /** The assembly, created on first use. */
    Assembly a() {
        Assembly x = assembly;
        if (x == null) {
            x = new Assembly();
            assembly = x;
        }
        return x;
    }

    /** Whether this is a block status whose filter goes to the server (without creating the assembly). */
    boolean filterSent() {
        return assembly != null && assembly.filterSent;
    }

    /** The error gathered so far, or null (without creating the assembly). */
    NbdCommandException error() {
        return assembly == null ? null : assembly.error;
    }

    /** The bytes this request counts against the in-flight byte cap: its data, to or from the server. */
    long bytes() {
        return type.equals(NbdCommandType.READ) || type.equals(NbdCommandType.WRITE) ? length : 0;
    }

    /** Releases everything the request holds. */
    void releaseAll() {
        ByteBuf payload = takePayload();
        if (payload != null) {
            ReferenceCountUtil.safeRelease(payload);
        }
        Assembly x = assembly;
        if (x != null && x.first != null) {
            ReferenceCountUtil.safeRelease(x.first);
            x.first = null;
        }
        if (x != null && x.assembled != null) {
            ReferenceCountUtil.safeRelease(x.assembled);
            x.assembled = null;
        }
    }
}
