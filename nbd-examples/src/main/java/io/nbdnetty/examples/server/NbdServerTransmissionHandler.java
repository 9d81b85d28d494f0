package io.nbdnetty.examples.server;

import io.nbdnetty.codec.NbdBlockStatusChunk;
import io.nbdnetty.codec.NbdBlockStatusPayload;
import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.codec.NbdCommandType;
import io.nbdnetty.codec.NbdErrno;
import io.nbdnetty.codec.NbdErrorChunk;
import io.nbdnetty.codec.NbdMalformedMessageException;
import io.nbdnetty.codec.NbdNoneChunk;
import io.nbdnetty.codec.NbdOffsetDataChunk;
import io.nbdnetty.codec.NbdOffsetHoleChunk;
import io.nbdnetty.codec.NbdReply;
import io.nbdnetty.codec.NbdReplyFlags;
import io.nbdnetty.codec.NbdReplyType;
import io.nbdnetty.codec.NbdRequest;
import io.nbdnetty.codec.NbdSimpleReply;
import io.nbdnetty.codec.NbdStateFlags;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * The transmission phase of one connection: executes {@link NbdRequest}s against the export and writes replies
 * (simple, structured or extended, as negotiated). Requests to a non-blocking export run on the event loop; requests
 * to a blocking export run on the server's I/O pool, so replies may go out in any order (the protocol allows it).
 * Not sharable.
 */
final class NbdServerTransmissionHandler extends ChannelInboundHandlerAdapter {
    /** Data chunks of a structured read are at most this long (unless the client sets DF). */
    static final int MAX_DATA_CHUNK = 1024 * 1024;
    /** The most descriptors in one block status chunk (the spec says SHOULD NOT exceed 2^20). */
    static final int MAX_EXTENTS = 64 * 1024;
    /** The longest extent in a 32-bit block status descriptor: 4 GiB - 64 KiB, a multiple of any minimum block. */
    static final long MAX_EXTENT_32 = 0xffff0000L;
    /** The most a 64-bit block status reply describes at once: 1 TiB, to bound the work per request. */
    static final long MAX_EXTENT_64 = 1L << 40;
    /** Stop reading from a client with this many requests in flight; resume below the low mark. */
    static final int HIGH_WATER = 128;
    static final int LOW_WATER = 64;

    private static final System.Logger LOG = System.getLogger(NbdServerTransmissionHandler.class.getName());

    private final ExportEntry entry;
    private final NbdExport export;
    private final boolean structured;
    private final boolean extended;
    /** The contexts selected for this export ({@link ServerConfig#SELECT_BASE_ALLOCATION} ...), 0 if none. */
    private final int contexts;
    private final boolean readOnly;
    private final Executor executor;
    private final int maxPayload;
    private final int minBlock;
    private final long size;

    private ChannelHandlerContext ctx;
    private int inFlight;
    private boolean disconnecting;

    NbdServerTransmissionHandler(ServerConfig config, ExportEntry entry, boolean structured, boolean extended,
            int contexts) {
        this.entry = entry;
        this.export = entry.export();
        this.structured = structured;
        this.extended = extended;
        this.contexts = contexts;
        this.readOnly = config.isReadOnly(entry);
        this.executor = export.isBlocking() ? config.ioExecutor() : null;
        this.maxPayload = config.maxPayload();
        this.minBlock = config.minBlockSize();
        this.size = export.size();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof NbdRequest request)) {
            ReferenceCountUtil.release(msg);
            LOG.log(System.Logger.Level.WARNING, "unexpected message in transmission: {0}", msg);
            ctx.close();
            return;
        }
        if (disconnecting) {
            // The client promised to send nothing after NBD_CMD_DISC.
            request.release();
            return;
        }
        if (request.type().equals(NbdCommandType.DISC)) {
            request.release();
            disconnecting = true;
            ctx.channel().config().setAutoRead(false);
            closeIfIdle();
            return;
        }
        inFlight++;
        if (inFlight == HIGH_WATER) {
            ctx.channel().config().setAutoRead(false);
        }
        if (executor == null) {
            complete(execute(request));
            return;
        }
        try {
            executor.execute(() -> {
                List<NbdReply> replies = execute(request);
                try {
                    ctx.executor().execute(() -> complete(replies));
                } catch (RejectedExecutionException e) {
                    // The server is shutting down.
                    replies.forEach(ReferenceCountUtil::release);
                }
            });
        } catch (RejectedExecutionException e) {
            request.release();
            complete(List.of(error(request, NbdErrno.ESHUTDOWN, "the server is shutting down")));
        }
    }

    /** Writes one request's replies; runs on the event loop. */
    private void complete(List<NbdReply> replies) {
        inFlight--;
        if (!ctx.channel().isActive()) {
            replies.forEach(ReferenceCountUtil::release);
            return;
        }
        for (int i = 0; i < replies.size(); i++) {
            if (i == replies.size() - 1) {
                ctx.write(replies.get(i)).addListener(ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
            } else {
                ctx.write(replies.get(i), ctx.voidPromise());
            }
        }
        ctx.flush();
        if (disconnecting) {
            closeIfIdle();
        } else if (inFlight == LOW_WATER - 1) {
            ctx.channel().config().setAutoRead(true);
        }
    }

    private void closeIfIdle() {
        if (inFlight == 0) {
            // The empty write completes after every earlier reply is written; then hang up.
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** Runs one request and returns its replies; releases the request. May run on any thread. */
    private List<NbdReply> execute(NbdRequest request) {
        try {
            return dispatch(request);
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "{0} failed: {1}", request, e.toString());
            return List.of(error(request, NbdErrno.EIO, request.type() + " failed: " + e.getMessage()));
        } finally {
            request.release();
        }
    }

    private List<NbdReply> dispatch(NbdRequest r) throws IOException {
        NbdCommandType type = r.type();
        int flags = r.flags();
        int allowed = NbdCommandFlags.FUA;
        if (type.equals(NbdCommandType.READ)) {
            allowed |= structured ? NbdCommandFlags.DF : 0;
        } else if (type.equals(NbdCommandType.WRITE)) {
            allowed |= extended ? NbdCommandFlags.PAYLOAD_LEN : 0;
        } else if (type.equals(NbdCommandType.WRITE_ZEROES)) {
            allowed |= NbdCommandFlags.NO_HOLE | NbdCommandFlags.FAST_ZERO;
        } else if (type.equals(NbdCommandType.BLOCK_STATUS)) {
            allowed |= NbdCommandFlags.REQ_ONE | (extended && contexts != 0 ? NbdCommandFlags.PAYLOAD_LEN : 0);
        } else if (!type.equals(NbdCommandType.FLUSH) && !type.equals(NbdCommandType.TRIM)
                && !type.equals(NbdCommandType.CACHE)) {
            // proto.md: "The server SHOULD return NBD_EINVAL if it receives an unknown command."
            return one(error(r, NbdErrno.EINVAL, type + " is not supported by this server"));
        }
        if ((flags & ~allowed) != 0) {
            return one(error(r, NbdErrno.EINVAL, "flags " + NbdCommandFlags.toString(flags & ~allowed)
                    + " are not valid for " + type));
        }
        // An extended WRITE without NBD_CMD_FLAG_PAYLOAD_LEN is accepted: the draft says the client MUST set it,
        // but qemu 10 does not, and the request decoder has read the data either way (liberal in what we accept,
        // as qemu's own server is).
        boolean fua = (flags & NbdCommandFlags.FUA) != 0;
        long offset = r.offset();
        long length = r.length();
        if (type.equals(NbdCommandType.READ)) {
            return read(r, offset, length);
        } else if (type.equals(NbdCommandType.WRITE)) {
            if (readOnly) {
                return one(error(r, NbdErrno.EPERM, "the export is read-only"));
            }
            String bad = checkRange(offset, length, true);
            if (bad != null) {
                return one(error(r, outOfBounds(offset, length) ? NbdErrno.ENOSPC : NbdErrno.EINVAL, bad));
            }
            export.write(offset, r.payload(), fua);
        } else if (type.equals(NbdCommandType.FLUSH)) {
            export.flush();
        } else if (type.equals(NbdCommandType.TRIM)) {
            if (readOnly) {
                return one(error(r, NbdErrno.EPERM, "the export is read-only"));
            }
            String bad = checkRange(offset, length, false);
            if (bad != null) {
                return one(error(r, NbdErrno.EINVAL, bad));
            }
            export.trim(offset, length, fua);
        } else if (type.equals(NbdCommandType.WRITE_ZEROES)) {
            if (readOnly) {
                return one(error(r, NbdErrno.EPERM, "the export is read-only"));
            }
            String bad = checkRange(offset, length, false);
            if (bad != null) {
                return one(error(r, outOfBounds(offset, length) ? NbdErrno.ENOSPC : NbdErrno.EINVAL, bad));
            }
            if ((flags & NbdCommandFlags.FAST_ZERO) != 0 && !export.canFastZero()) {
                return one(error(r, NbdErrno.ENOTSUP, "zeroing this export is not faster than writing"));
            }
            export.writeZeroes(offset, length, (flags & NbdCommandFlags.NO_HOLE) == 0, fua);
        } else if (type.equals(NbdCommandType.CACHE)) {
            if (outOfBounds(offset, length)) {
                return one(error(r, NbdErrno.EINVAL, beyondEnd(offset, length)));
            }
            export.cache(offset, length);
        } else {
            return blockStatus(r, offset, length);
        }
        return one(ok(r));
    }

    private List<NbdReply> read(NbdRequest r, long offset, long length) throws IOException {
        String bad = checkRange(offset, length, true);
        if (bad != null) {
            return one(error(r, NbdErrno.EINVAL, bad));
        }
        ByteBufAllocator alloc = ctx.alloc();
        int len = (int) length;
        if (!structured) {
            ByteBuf data = alloc.ioBuffer(len);
            try {
                export.read(offset, len, data);
            } catch (IOException | RuntimeException e) {
                data.release();
                throw e;
            }
            return one(new NbdSimpleReply(r.cookie(), NbdErrno.OK, data));
        }
        long headerOffset = extended ? offset : 0;
        if (len == 0) {
            return one(new NbdNoneChunk(NbdReplyFlags.DONE, r.cookie(), headerOffset));
        }
        boolean df = (r.flags() & NbdCommandFlags.DF) != 0;
        // Segments to send: offset, length, hole (1) or data (0); holes only without DF.
        List<long[]> segments = new ArrayList<>();
        if (df) {
            segments.add(new long[] {offset, len, 0});
        } else {
            long pos = offset;
            long end = offset + len;
            while (pos < end) {
                long[] extents = export.blockStatus(pos, end - pos, MAX_EXTENTS);
                for (int i = 0; i < extents.length; i += 2) {
                    boolean hole = (extents[i + 1] & NbdStateFlags.ZERO) != 0;
                    for (long done = 0; done < extents[i]; ) {
                        long n = hole ? extents[i] - done : Math.min(extents[i] - done, MAX_DATA_CHUNK);
                        segments.add(new long[] {pos + done, n, hole ? 1 : 0});
                        done += n;
                    }
                    pos += extents[i];
                }
            }
        }
        List<NbdReply> chunks = new ArrayList<>(segments.size());
        try {
            for (int i = 0; i < segments.size(); i++) {
                long[] s = segments.get(i);
                int flags = i == segments.size() - 1 ? NbdReplyFlags.DONE : 0;
                if (s[2] == 1) {
                    chunks.add(new NbdOffsetHoleChunk(flags, r.cookie(), headerOffset, s[0], (int) s[1]));
                } else {
                    ByteBuf data = alloc.ioBuffer((int) s[1]);
                    NbdOffsetDataChunk chunk = new NbdOffsetDataChunk(flags, r.cookie(), headerOffset, s[0], data);
                    chunks.add(chunk);
                    export.read(s[0], (int) s[1], data);
                }
            }
        } catch (IOException | RuntimeException e) {
            chunks.forEach(ReferenceCountUtil::release);
            throw e;
        }
        return chunks;
    }

    private List<NbdReply> blockStatus(NbdRequest r, long offset, long length) throws IOException {
        if (contexts == 0) {
            return one(error(r, NbdErrno.EINVAL, "no metadata context was negotiated for this export"));
        }
        int wanted = contexts;
        if ((r.flags() & NbdCommandFlags.PAYLOAD_LEN) != 0) {
            // proto-extended-headers.md, NBD_CMD_BLOCK_STATUS: 64-bit effect length, then context ids; the decoder
            // has consumed the payload, so a bad one fails this request only ("MUST gracefully consume the client's
            // payload before failing with NBD_EINVAL").
            NbdBlockStatusPayload filter;
            try {
                filter = NbdBlockStatusPayload.decode(r.payload());
            } catch (NbdMalformedMessageException e) {
                return one(error(r, NbdErrno.EINVAL, e.getMessage()));
            }
            if (filter.contextCount() == 0) {
                return one(error(r, NbdErrno.EINVAL, "block status payload names no metadata context"));
            }
            length = filter.effectLength();
            wanted = 0;
            for (int id : filter.contextIds()) {
                int bit = ServerConfig.selectionBit(id);
                if (bit == 0 || (contexts & bit) == 0 || (wanted & bit) != 0) {
                    return one(error(r, NbdErrno.EINVAL, ((wanted & bit) != 0 ? "duplicate" : "unknown")
                            + " metadata context id " + Integer.toUnsignedString(id)));
                }
                wanted |= bit;
            }
        }
        if (length == 0) {
            return one(error(r, NbdErrno.EINVAL, "block status of length 0"));
        }
        if (outOfBounds(offset, length)) {
            return one(error(r, NbdErrno.EINVAL, beyondEnd(offset, length)));
        }
        boolean reqOne = (r.flags() & NbdCommandFlags.REQ_ONE) != 0;
        long span = Math.min(length, extended ? MAX_EXTENT_64 : MAX_EXTENT_32);
        long[] extents = export.blockStatus(offset, span, reqOne ? 1 : MAX_EXTENTS);
        // One chunk per context wanted (all selected ones, or the filter's), the last one DONE.
        boolean base = (wanted & ServerConfig.SELECT_BASE_ALLOCATION) != 0;
        boolean depth = (wanted & ServerConfig.SELECT_ALLOCATION_DEPTH) != 0;
        long headerOffset = extended ? offset : 0;
        List<NbdReply> chunks = new ArrayList<>(2);
        if (base) {
            chunks.add(new NbdBlockStatusChunk(depth ? 0 : NbdReplyFlags.DONE, r.cookie(), headerOffset, extended,
                    ServerConfig.BASE_ALLOCATION_ID, extents));
        }
        if (depth) {
            chunks.add(new NbdBlockStatusChunk(NbdReplyFlags.DONE, r.cookie(), headerOffset, extended,
                    ServerConfig.ALLOCATION_DEPTH_ID, allocationDepth(extents)));
        }
        return chunks;
    }

    /**
     * The qemu:allocation-depth extents of base:allocation ones: depth 0 where a hole, 1 where allocated (no backing
     * chain here); neighbours of equal depth merged.
     */
    private static long[] allocationDepth(long[] extents) {
        long[] out = new long[extents.length];
        int n = 0;
        for (int i = 0; i < extents.length; i += 2) {
            long d = (extents[i + 1] & NbdStateFlags.HOLE) != 0 ? 0 : 1;
            if (n > 0 && out[n - 1] == d) {
                out[n - 2] += extents[i];
            } else {
                out[n] = extents[i];
                out[n + 1] = d;
                n += 2;
            }
        }
        return Arrays.copyOf(out, n);
    }

    /** Returns why a read or write range is invalid, or null if it is fine. */
    private String checkRange(long offset, long length, boolean payload) {
        if (outOfBounds(offset, length)) {
            return beyondEnd(offset, length);
        }
        if (payload && Long.compareUnsigned(length, maxPayload) > 0) {
            return "length " + Long.toUnsignedString(length) + " exceeds the maximum payload " + maxPayload;
        }
        // The last block of an export whose size is not a multiple of the minimum block may be short.
        if (minBlock > 1 && ((offset & (minBlock - 1)) != 0
                || ((length & (minBlock - 1)) != 0 && offset + length != size))) {
            return "offset " + offset + " or length " + length + " is not a multiple of the minimum block size "
                    + minBlock;
        }
        return null;
    }

    private boolean outOfBounds(long offset, long length) {
        return Long.compareUnsigned(offset, size) > 0 || Long.compareUnsigned(length, size - offset) > 0;
    }

    private String beyondEnd(long offset, long length) {
        return "offset " + Long.toUnsignedString(offset) + " + length " + Long.toUnsignedString(length)
                + " is beyond the end of the export (size " + size + ")";
    }

    private NbdReply ok(NbdRequest r) {
        // Under structured replies a simple reply is fine for success without data; extended headers forbid it.
        return extended ? new NbdNoneChunk(NbdReplyFlags.DONE, r.cookie(), r.offset())
                : new NbdSimpleReply(r.cookie(), NbdErrno.OK);
    }

    private NbdReply error(NbdRequest r, NbdErrno errno, String message) {
        if (!structured) {
            return new NbdSimpleReply(r.cookie(), errno);
        }
        String text = message.length() > 1024 ? message.substring(0, 1024) : message;
        return new NbdErrorChunk(NbdReplyFlags.DONE, NbdReplyType.ERROR, r.cookie(), extended ? r.offset() : 0, errno,
                text, 0);
    }

    private static List<NbdReply> one(NbdReply reply) {
        return List.of(reply);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.log(System.Logger.Level.INFO, "closing {0} on export \"{1}\": {2}", ctx.channel(), entry.name(),
                cause.toString());
        ctx.close();
    }
}
