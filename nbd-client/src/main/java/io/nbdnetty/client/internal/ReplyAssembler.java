package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdCommandException;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdExtent;
import io.nbdnetty.client.NbdListener;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdProtocolException;
import io.nbdnetty.client.NbdReplyStyle;
import io.nbdnetty.client.NbdStrict;
import io.nbdnetty.codec.NbdBlockStatusChunk;
import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.codec.NbdCommandType;
import io.nbdnetty.codec.NbdConstants;
import io.nbdnetty.codec.NbdErrno;
import io.nbdnetty.codec.NbdErrorChunk;
import io.nbdnetty.codec.NbdNoneChunk;
import io.nbdnetty.codec.NbdOffsetDataChunk;
import io.nbdnetty.codec.NbdOffsetHoleChunk;
import io.nbdnetty.codec.NbdReplyChunk;
import io.nbdnetty.codec.NbdReplyDecoder;
import io.nbdnetty.codec.NbdReplyFlags;
import io.nbdnetty.codec.NbdReplyType;
import io.nbdnetty.codec.NbdSimpleReply;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.LongObjectHashMap;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The reply half of the transmission phase: takes replies (simple replies and structured chunks, from the decoder's
 * sink or as messages), finds their requests in the in-flight map, checks everything the spec says a server must
 * do, and assembles READ data and block status into the value each request completes with. It neither sends nor
 * completes anything itself: a finished reply goes to {@link #complete} or {@link #completeExceptionally}, a broken
 * one to {@link #fail}, which {@link TransmissionHandler} implements. Event loop only.
 */
abstract class ReplyAssembler extends ChannelDuplexHandler implements NbdReplyDecoder.DataSink {
    static final InternalLogger LOG = InternalLoggerFactory.getInstance(NbdConnection.class);

    /** Makes the caller's view of one context's extents ({@code NbdExtentList.of}, which is not public). */
    @FunctionalInterface
    public interface ExtentLists {
        /**
         * The first {@code count} descriptors of a chunk from {@code start} on, the last {@code lastLength} bytes
         * long, ending at {@code end}.
         *
         * @param start the offset of the first extent
         * @param chunk the chunk
         * @param count how many of its descriptors
         * @param lastLength the length of the last one
         * @param end where the last one ends
         * @return the list
         */
        List<NbdExtent> of(long start, NbdBlockStatusChunk chunk, int count, long lastLength, long end);
    }

    final NbdClientConfig config;
    final boolean debug;
    final NbdExportInfo info;
    final NbdReplyStyle style;
    final List<NbdMetaContext> contexts;
    private final Map<Integer, NbdMetaContext> contextsById = new HashMap<>();
    private final ExtentLists extentLists;
    final Channel channel;
    /**
     * Requests in flight by {@link #key(long) key}, not by raw cookie: cookies are consecutive, and Netty's map
     * places consecutive keys in consecutive slots, so 64 requests in flight made one run of 64 slots that every
     * removal scanned to its end (perf: {@code removeAt} was 1.8% of the event loop at 4K QD64).
     */
    final LongObjectHashMap<Request<?>> inFlightMap = new LongObjectHashMap<>();
    /** Whether replies are being read (set by each reply, cleared at the end of the socket read). */
    boolean reading;

    // Counters: written on the event loop only, read anywhere.
    volatile long bytesReceived;
    volatile long chunksReceived;

    ReplyAssembler(NbdSession session, Channel channel, ExtentLists extentLists) {
        this.config = session.config();
        this.debug = config.debug() && LOG.isDebugEnabled();
        this.info = session.info();
        this.style = session.style();
        this.contexts = session.contexts();
        for (NbdMetaContext c : contexts) {
            contextsById.put(c.id(), c);
        }
        this.channel = channel;
        this.extentLists = extentLists;
    }

    /** The request's reply is complete: hand the value over (released if nobody wants it any more). */
    abstract void complete(Request<?> r, Object value);

    /** The request failed (the server said so): fail its future; the connection carries on. */
    abstract void completeExceptionally(Request<?> r, Throwable cause);

    /** The server broke the protocol: the connection ends. */
    abstract void fail(Throwable cause);

    /** Spreads consecutive cookies over the map (a bijection, so distinct cookies keep distinct keys). */
    static long key(long cookie) {
        return cookie * 0x9E3779B97F4A7C15L;
    }

    final long simpleReplyDataLength(long cookie) {
        Request<?> r = inFlightMap.get(key(cookie));
        if (r == null) {
            return -1;
        }
        return r.type.equals(NbdCommandType.READ) ? r.length : 0;
    }

    /** A simple reply; data (empty if none) stays the caller's. */
    final void onSimpleReply(long cookie, NbdErrno error, ByteBuf data) throws NbdProtocolException {
        bytesReceived += NbdConstants.SIMPLE_REPLY_HEADER_LENGTH + data.readableBytes();
        chunksReceived++;
        Request<?> r = inFlightMap.get(key(cookie));
        if (r == null) {
            throw new NbdProtocolException("simple reply for unknown cookie " + Long.toUnsignedString(cookie));
        }
        if (r.chunks > 0) {
            throw new NbdProtocolException("simple reply to " + r.type + " (cookie " + r.cookie
                    + ") in the middle of its structured reply");
        }
        if (style != NbdReplyStyle.SIMPLE && r.type.equals(NbdCommandType.READ)) {
            throw new NbdProtocolException("simple reply to NBD_CMD_READ (cookie " + r.cookie
                    + ") although structured replies were negotiated");
        }
        if (!error.equals(NbdErrno.OK)) {
            completeExceptionally(r, new NbdCommandException(r.type, error, "", -1));
            return;
        }
        if (r.type.equals(NbdCommandType.BLOCK_STATUS)) {
            throw new NbdProtocolException("successful simple reply to NBD_CMD_BLOCK_STATUS (cookie " + r.cookie
                    + "): block status needs one chunk per context");
        }
        if (r.type.equals(NbdCommandType.READ)) {
            if (r.destination() != null) {
                r.destination().writeBytes(data, data.readerIndex(), data.readableBytes());
                complete(r, null);
            } else {
                complete(r, data.retain());
            }
            return;
        }
        complete(r, null);
    }

    /** Counts a chunk and finds its request, with the checks every chunk passes. */
    private Request<?> chunkRequest(NbdReplyType type, long cookie, long headerOffset, long payloadLength)
            throws NbdProtocolException {
        bytesReceived += (style == NbdReplyStyle.EXTENDED ? NbdConstants.EXTENDED_REPLY_HEADER_LENGTH
                : NbdConstants.STRUCTURED_REPLY_HEADER_LENGTH) + payloadLength;
        chunksReceived++;
        Request<?> r = inFlightMap.get(key(cookie));
        if (style == NbdReplyStyle.SIMPLE) {
            throw new NbdProtocolException("structured reply chunk " + type
                    + " although structured replies were not negotiated");
        }
        if (r == null) {
            throw new NbdProtocolException(type + " chunk for unknown cookie "
                    + Long.toUnsignedString(cookie) + " (no request in flight, or its reply was done)");
        }
        r.chunks++;
        if (style == NbdReplyStyle.EXTENDED && headerOffset != r.offset) {
            throw new NbdProtocolException(type + " chunk for cookie " + r.cookie + " echoes offset "
                    + Long.toUnsignedString(headerOffset) + ", but the request was at " + r.offset);
        }
        return r;
    }

    /** An NBD_REPLY_TYPE_OFFSET_DATA chunk; data stays the caller's. */
    private void onOffsetData(int flags, long cookie, long headerOffset, long offset, ByteBuf data)
            throws NbdProtocolException {
        int size = data.readableBytes();
        Request<?> r = chunkRequest(NbdReplyType.OFFSET_DATA, cookie, headerOffset, 8L + size);
        boolean done = (flags & NbdReplyFlags.DONE) != 0;
        if (r.chunks == 1 && done && offset == r.offset && size == r.length
                && r.type.equals(NbdCommandType.READ) && r.destination() == null) {
            // The common case, one chunk with all the data: hand over its slice without any bookkeeping.
            complete(r, data.retain());
            return;
        }
        content(r, offset, size, NbdReplyType.OFFSET_DATA, data);
        if (done) {
            done(r);
        }
    }

    final void onChunk(NbdReplyChunk chunk) throws NbdProtocolException {
        if (chunk instanceof NbdOffsetDataChunk d) {
            onOffsetData(d.flags(), d.cookie(), d.headerOffset(), d.offset(), d.data());
            return;
        }
        if (chunk instanceof NbdNoneChunk) {
            onNone(chunk.flags(), chunk.cookie(), chunk.headerOffset());
            return;
        }
        Request<?> r = chunkRequest(chunk.type(), chunk.cookie(), chunk.headerOffset(), chunk.payloadLength());
        if (chunk instanceof NbdOffsetHoleChunk h) {
            long size = Integer.toUnsignedLong(h.holeSize());
            if (size == 0) {
                throw new NbdProtocolException("NBD_REPLY_TYPE_OFFSET_HOLE of size 0 (cookie " + r.cookie + ")");
            }
            content(r, h.offset(), size, chunk.type(), null);
        } else if (chunk instanceof NbdBlockStatusChunk b) {
            blockStatusChunk(r, b);
        } else if (chunk instanceof NbdErrorChunk e) {
            errorChunk(r, e);
        }
        if (chunk.isDone()) {
            done(r);
        }
    }

    /** An {@code NBD_REPLY_TYPE_NONE} chunk: it must end its reply. */
    private void onNone(int flags, long cookie, long headerOffset) throws NbdProtocolException {
        Request<?> r = chunkRequest(NbdReplyType.NONE, cookie, headerOffset, 0);
        if ((flags & NbdReplyFlags.DONE) == 0) {
            throw new NbdProtocolException("NBD_REPLY_TYPE_NONE without the DONE flag (cookie " + r.cookie + ")");
        }
        done(r);
    }

    /**
     * Takes a content chunk of a READ reply: checks it lies within the request and overlaps nothing before it, and
     * puts its bytes in place. The first chunk is kept as it came (its data retained, without a copy); from the
     * second on, the data goes into one buffer of the request's length (or the caller's destination) and each chunk
     * is released at once, and coverage is a bitmap of the request. So a reply in many small chunks costs the READ
     * length plus an eighth, never memory in proportion to the number of chunks or the buffers they arrived in.
     */
    private void content(Request<?> r, long offset, long size, NbdReplyType type, ByteBuf data)
            throws NbdProtocolException {
        if (!r.type.equals(NbdCommandType.READ)) {
            throw new NbdProtocolException(type + " in the reply to " + r.type + " (cookie " + r.cookie
                    + ")");
        }
        long end = offset + size;
        if (offset < r.offset || end > r.offset + r.length || end < offset) {
            throw new NbdProtocolException(type + " covers " + Long.toUnsignedString(offset) + "+" + size
                    + ", outside the request " + r.offset + "+" + r.length + " (cookie " + r.cookie + ")");
        }
        int from = (int) (offset - r.offset);
        int to = (int) (end - r.offset);
        if (r.a().contentChunks > 0 && (r.flags & NbdCommandFlags.DF) != 0) {
            throw new NbdProtocolException("more than one content chunk for a READ with the DF flag (cookie "
                    + r.cookie + ")");
        }
        Request.Assembly a = r.a();
        boolean overlaps = a.coverage != null ? a.coverage.nextSetBit(from) >= 0 && a.coverage.nextSetBit(from) < to
                : a.contentChunks > 0 && from < a.firstTo && a.firstFrom < to;
        if (overlaps) {
            throw new NbdProtocolException(type + " at " + offset + "+" + size
                    + " overlaps an earlier chunk of the same reply (cookie " + r.cookie + ")");
        }
        if (r.a().contentChunks == 0 && r.destination() == null) {
            r.a().firstFrom = from;
            r.a().firstTo = to;
            r.a().first = data == null ? null : data.retain();
        } else {
            if (r.a().coverage == null) {
                // The second content chunk: from now on, assemble in place.
                r.a().coverage = new java.util.BitSet((int) r.length);
                if (r.a().contentChunks > 0) {
                    r.a().coverage.set(r.a().firstFrom, r.a().firstTo);
                }
                if (r.destination() == null) {
                    r.a().assembled = channel.alloc().buffer((int) r.length, (int) r.length);
                    place(r, r.a().firstFrom, r.a().firstTo, r.a().first);
                    if (r.a().first != null) {
                        r.a().first.release();
                        r.a().first = null;
                    }
                } else {
                    r.a().destinationBase = r.destination().writerIndex();
                    r.destination().ensureWritable((int) r.length);
                }
            }
            r.a().coverage.set(from, to);
            place(r, from, to, data);
        }
        r.a().contentChunks++;
        r.a().covered += size;
    }

    /** Puts bytes {@code from..to} of a READ (data, or zeroes for a hole) in its assembly buffer or destination. */
    private static void place(Request<?> r, int from, int to, ByteBuf data) {
        ByteBuf dst = r.a().assembled != null ? r.a().assembled : r.destination();
        int at = (r.a().assembled != null ? 0 : r.a().destinationBase) + from;
        if (data != null) {
            dst.setBytes(at, data, data.readerIndex(), to - from);
        } else {
            dst.setZero(at, to - from);
        }
    }

    private void blockStatusChunk(Request<?> r, NbdBlockStatusChunk b) throws NbdProtocolException {
        if (!r.type.equals(NbdCommandType.BLOCK_STATUS)) {
            throw new NbdProtocolException(b.type() + " in the reply to " + r.type + " (cookie " + r.cookie + ")");
        }
        NbdMetaContext context = contextsById.get(b.contextId());
        if (context == null) {
            throw new NbdProtocolException("block status for context id " + Integer.toUnsignedString(b.contextId())
                    + ", which was not negotiated (cookie " + r.cookie + ")");
        }
        if (r.filterSent() && !r.a().asked.contains(context)) {
            throw new NbdProtocolException("block status for context " + context.name() + ", which the request's "
                    + "filter did not ask for (cookie " + r.cookie + ")");
        }
        if (r.a().status == null) {
            r.a().status = new LinkedHashMap<>();
        }
        if (r.a().status.containsKey(b.contextId())) {
            throw new NbdProtocolException("two block status chunks for context " + context.name() + " (cookie "
                    + r.cookie + ")");
        }
        int n = b.extentCount();
        if (n == 0) {
            throw new NbdProtocolException("block status chunk without extents (cookie " + r.cookie + ")");
        }
        r.a().extents += n;
        if (r.a().extents > config.maxBlockStatusExtents()) {
            throw new NbdProtocolException("the reply to NBD_CMD_BLOCK_STATUS (cookie " + r.cookie + ") holds more"
                    + " than " + config.maxBlockStatusExtents() + " extents, the limit of one reply");
        }
        boolean reqOne = (r.flags & NbdCommandFlags.REQ_ONE) != 0;
        if (reqOne && (n != 1 || Long.compareUnsigned(b.extentLength(0), r.length) > 0)) {
            throw new NbdProtocolException("block status with REQ_ONE must have one extent no longer than the request;"
                    + " got " + n + " extent(s), the first " + Long.toUnsignedString(b.extentLength(0))
                    + " bytes (cookie " + r.cookie + ")");
        }
        long sum = 0;
        for (int i = 0; i < n; i++) {
            long len = b.extentLength(i);
            if (len == 0) {
                throw new NbdProtocolException("block status extent of length 0 for " + context.name() + " (cookie "
                        + r.cookie + ")");
            }
            // Even the last extent, which may run past the request, must end at an offset a long can hold: a
            // 64-bit length near 2^64 would otherwise reach the caller as a negative length or end.
            if (len < 0 || len > Long.MAX_VALUE - r.offset - sum) {
                throw new NbdProtocolException("block status extent " + i + " of " + Long.toUnsignedString(len)
                        + " bytes for " + context.name() + " ends beyond offset 2^63 (cookie " + r.cookie + ")");
            }
            if (i < n - 1) {
                sum += len;
                if (sum >= r.length) {
                    throw new NbdProtocolException("block status extents for " + context.name()
                            + " run past the requested length before the last one (cookie " + r.cookie + ")");
                }
            }
            if (b.isExtended() && context.name().startsWith("base:") && (b.extentStatus(i) >>> 32) != 0) {
                throw new NbdProtocolException("64-bit status with the high bits set for " + context.name()
                        + " (cookie " + r.cookie + ")");
            }
        }
        r.a().status.put(b.contextId(), b);
    }

    private void errorChunk(Request<?> r, NbdErrorChunk e) throws NbdProtocolException {
        if (e.error().equals(NbdErrno.OK)) {
            throw new NbdProtocolException(e.type() + " with error 0 (cookie " + r.cookie + ")");
        }
        if (++r.a().errorChunks > maxErrorChunks(r)) {
            throw new NbdProtocolException("the reply to " + r.type + " (cookie " + r.cookie + ") goes on with more"
                    + " than " + maxErrorChunks(r) + " error chunks and no end");
        }
        long errorOffset = -1;
        if (e.hasErrorOffset()) {
            NbdCommandType t = r.type;
            if (t.equals(NbdCommandType.FLUSH) || t.equals(NbdCommandType.DISC)) {
                throw new NbdProtocolException("NBD_REPLY_TYPE_ERROR_OFFSET is not valid for " + t);
            }
            errorOffset = e.errorOffset();
            if (errorOffset < r.offset || errorOffset - r.offset >= r.length) {
                throw new NbdProtocolException("NBD_REPLY_TYPE_ERROR_OFFSET at " + Long.toUnsignedString(errorOffset)
                        + " lies outside the request " + r.offset + "+" + r.length + " (cookie " + r.cookie + ")");
            }
        }
        if (r.a().error == null) {
            r.a().error = new NbdCommandException(r.type, e.error(), e.message(), errorOffset);
        }
    }

    private void done(Request<?> r) throws NbdProtocolException {
        if (r.error() != null) {
            completeExceptionally(r, r.error());
            return;
        }
        if (r.type.equals(NbdCommandType.READ)) {
            if (r.a().covered != r.length) {
                throw new NbdProtocolException("the reply to NBD_CMD_READ (cookie " + r.cookie + ") covered "
                        + r.a().covered + " of " + r.length + " bytes without reporting an error");
            }
            complete(r, assembleRead(r));
            return;
        }
        if (r.type.equals(NbdCommandType.BLOCK_STATUS)) {
            int got = r.a().status == null ? 0 : r.a().status.size();
            List<NbdMetaContext> answered = r.filterSent() ? r.a().asked : contexts;
            if (got != answered.size()) {
                throw new NbdProtocolException("the reply to NBD_CMD_BLOCK_STATUS (cookie " + r.cookie + ") had "
                        + got + " status chunk(s) for " + answered.size() + (r.filterSent()
                        ? " context(s) asked for" : " negotiated context(s)"));
            }
            Map<String, List<NbdExtent>> result = new LinkedHashMap<>();
            for (NbdMetaContext c : r.a().asked != null ? r.a().asked : contexts) {
                result.put(c.name(), extentList(r, c, r.a().status.get(c.id())));
            }
            complete(r, new NbdBlockStatus(r.offset, result));
            return;
        }
        complete(r, null);
    }

    /**
     * The most error chunks one reply may hold: 1,024, plus one per 512 bytes of a READ (a server may report each
     * failed sector of a long READ on its own). Each error chunk is valid alone, so without a bound a server could
     * keep one reply going for ever; past it the reply cannot be trusted to end, and the connection fails.
     */
    static long maxErrorChunks(Request<?> r) {
        return NbdConnection.MAX_ERROR_CHUNKS + (r.type.equals(NbdCommandType.READ) ? r.length / 512 : 0);
    }

    /**
     * The extents of one context as the caller gets them: a view over the chunk as decoded, without a copy, ending
     * at the end of the export. The spec lets the last extent run past the request, but past the end of the export
     * there are no bytes to describe: such an extent is cut there and any after it dropped (and the listener told),
     * or, with {@link NbdStrict#EXTENTS}, the reply is a protocol error.
     */
    private List<NbdExtent> extentList(Request<?> r, NbdMetaContext c, NbdBlockStatusChunk b)
            throws NbdProtocolException {
        long size = info.size();
        int n = b.extentCount();
        long at = r.offset;
        for (int i = 0; i < n; i++) {
            long len = b.extentLength(i);
            if (at + len > size) {
                long end = at;
                for (int j = i; j < n; j++) {
                    end += b.extentLength(j);
                }
                if ((config.strictMode() & NbdStrict.EXTENTS) != 0) {
                    throw new NbdProtocolException("block status extents for " + c.name() + " run to offset "
                            + end + ", past the end of the export (" + size + " bytes) (cookie " + r.cookie + ")");
                }
                NbdListener l = config.listener();
                if (l != null) {
                    try {
                        l.extentsBeyondEnd(c.name(), r.offset, end, size);
                    } catch (RuntimeException e) {
                        LOG.warn("NbdListener threw", e);
                    }
                }
                if (debug) {
                    LOG.debug("{}: block status for {} ran to {}, cut at the end of the export ({})", channel,
                            c.name(), end, size);
                }
                return at < size ? extentLists.of(r.offset, b, i + 1, size - at, size)
                        : extentLists.of(r.offset, b, i, i == 0 ? 0 : b.extentLength(i - 1), at);
            }
            at += len;
        }
        return extentLists.of(r.offset, b, n, b.extentLength(n - 1), at);
    }

    /** Hands over a complete structured READ: in the caller's buffer, the one chunk as it came, or the assembly. */
    private ByteBuf assembleRead(Request<?> r) {
        if (r.destination() != null) {
            if (r.a().contentChunks > 0) {
                r.destination().writerIndex(r.a().destinationBase + (int) r.length);
            }
            return null;
        }
        if (r.a().contentChunks == 0) {
            return Unpooled.EMPTY_BUFFER;
        }
        if (r.a().assembled != null) {
            ByteBuf b = r.a().assembled;
            r.a().assembled = null;
            return b.writerIndex((int) r.length);
        }
        if (r.a().first != null) {
            ByteBuf b = r.a().first;
            r.a().first = null;
            return b;
        }
        int size = (int) r.length;
        return channel.alloc().buffer(size, size).writeZero(size);
    }

    @Override
    public void simpleReply(long cookie, ByteBuf data) {
        reading = true;
        try {
            onSimpleReply(cookie, NbdErrno.OK, data);
        } catch (NbdProtocolException e) {
            fail(e);
        } finally {
            data.release();
        }
    }

    @Override
    public void offsetData(int flags, long cookie, long headerOffset, long offset, ByteBuf data) {
        reading = true;
        try {
            onOffsetData(flags, cookie, headerOffset, offset, data);
        } catch (NbdProtocolException e) {
            fail(e);
        } finally {
            data.release();
        }
    }

    @Override
    public boolean noneChunk(int flags, long cookie, long headerOffset) {
        reading = true;
        try {
            onNone(flags, cookie, headerOffset);
        } catch (NbdProtocolException e) {
            fail(e);
        }
        return true;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        reading = true;
        try {
            if (msg instanceof NbdSimpleReply s) {
                onSimpleReply(s.cookie(), s.error(), s.data());
            } else if (msg instanceof NbdReplyChunk c) {
                onChunk(c);
            } else {
                throw new NbdProtocolException("unexpected message in the transmission phase: " + msg);
            }
        } catch (NbdProtocolException e) {
            fail(e);
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }
}
