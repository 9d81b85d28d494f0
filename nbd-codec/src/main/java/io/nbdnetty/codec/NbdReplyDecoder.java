package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Decodes transmission-phase replies, for clients: {@link NbdSimpleReply}s and {@link NbdReplyChunk}s, with compact
 * (simple and structured) or extended headers as negotiated.
 *
 * <p>A simple reply's data length is not on the wire, so the decoder asks a {@link PayloadLengthResolver} (the
 * client's table of requests in flight) when a successful simple reply arrives; an unknown cookie raises {@link
 * NbdUnknownCookieException}. Each chunk's payload length is checked against a limit before the decoder waits for the
 * payload, and its layout is checked against its type. Read data is a retained slice of what was received. With a
 * {@link DataSink}, replies carrying data go to it directly instead of down the pipeline.
 *
 * <p>Under extended headers only extended replies are accepted; otherwise extended replies are refused. After any
 * error the decoder discards all further input. Not sharable.
 */
public final class NbdReplyDecoder extends ByteToMessageDecoder {
    /** Default limit for one reply payload: 64 MiB of data plus its chunk fields. */
    public static final int DEFAULT_MAX_PAYLOAD_LENGTH = 64 * 1024 * 1024 + 1024;

    /** Tells the decoder how much data follows a successful simple reply. */
    @FunctionalInterface
    public interface PayloadLengthResolver {
        /**
         * Returns the data length of a successful simple reply to this cookie: the READ length for a READ, 0 for
         * anything else, or -1 if no request with this cookie is in flight.
         *
         * @param cookie the cookie of the reply
         * @return the data length, or -1 for an unknown cookie
         */
        long simpleReplyDataLength(long cookie);
    }

    /**
     * Takes READ data straight from the decoder instead of a message object per reply: for a client's own
     * transmission handler, which then allocates nothing per reply. Called from {@code decode}, in the order of the
     * stream and after every message decoded before has gone down the pipeline; it must not throw (a client fails
     * its connection itself).
     */
    public interface DataSink {
        /**
         * A successful simple reply, in place of an {@link NbdSimpleReply}.
         *
         * @param cookie the cookie of the reply
         * @param data its data (empty unless a READ), owned by the sink, which releases it
         */
        void simpleReply(long cookie, ByteBuf data);

        /**
         * An {@code NBD_REPLY_TYPE_OFFSET_DATA} chunk, in place of an {@link NbdOffsetDataChunk}.
         *
         * @param flags the {@link NbdReplyFlags}
         * @param cookie the cookie of the reply
         * @param headerOffset the offset echoed in an extended header, 0 under compact headers
         * @param offset the offset of the data in the export
         * @param data the data, owned by the sink, which releases it
         */
        void offsetData(int flags, long cookie, long headerOffset, long offset, ByteBuf data);

        /**
         * An {@code NBD_REPLY_TYPE_NONE} chunk (with no payload, as the spec requires), offered in place of an {@link
         * NbdNoneChunk}: the usual end of a structured reply to a WRITE, FLUSH or other command without data.
         *
         * @param flags the {@link NbdReplyFlags}
         * @param cookie the cookie of the reply
         * @param headerOffset the offset echoed in an extended header, 0 under compact headers
         * @return true if taken; false (the default) to have it passed down the pipeline as an {@link NbdNoneChunk}
         */
        default boolean noneChunk(int flags, long cookie, long headerOffset) {
            return false;
        }
    }

    private enum State { HEADER, SIMPLE_DATA, CHUNK_PAYLOAD, FAILED }

    private final boolean extendedHeaders;
    private final PayloadLengthResolver resolver;
    private final int maxPayloadLength;
    private final DataSink sink;
    private long maxBlockStatusDescriptors = Long.MAX_VALUE;
    private long bytesReceived;

    private State state = State.HEADER;
    private long streamOffset;
    // The header being decoded.
    private int flags;
    private int type;
    private long cookie;
    private long headerOffset;
    private int payloadLength;
    private int errorCode;

    /**
     * Creates a decoder.
     *
     * @param extendedHeaders true if extended headers were negotiated
     * @param resolver tells the data length of simple replies
     * @param maxPayloadLength the largest reply payload accepted
     */
    public NbdReplyDecoder(boolean extendedHeaders, PayloadLengthResolver resolver, int maxPayloadLength) {
        this(extendedHeaders, resolver, maxPayloadLength, null);
    }

    /**
     * Creates a decoder that hands successful simple replies and {@code NBD_REPLY_TYPE_OFFSET_DATA} chunks to a
     * sink instead of passing them down the pipeline as messages (every other reply is still a message).
     *
     * @param extendedHeaders true if extended headers were negotiated
     * @param resolver tells the data length of simple replies
     * @param maxPayloadLength the largest reply payload accepted
     * @param sink takes the replies that carry data; null to pass them on as messages
     */
    public NbdReplyDecoder(boolean extendedHeaders, PayloadLengthResolver resolver, int maxPayloadLength,
            DataSink sink) {
        this.sink = sink;
        this.extendedHeaders = extendedHeaders;
        this.resolver = resolver;
        // While a large payload is arriving, keep the socket reads as components instead of copying each into one
        // growing buffer: the payload is then handed on as a slice of those reads, never copied.
        // Merging also copies into a composite left from a large payload, and copies a large read that arrives
        // between messages: both go to the composite cumulator too. Small reads of small replies are merged.
        setCumulator((alloc, cumulation, in) -> waitingForLargePayload() || cumulation instanceof CompositeByteBuf
                || in.readableBytes() >= LARGE_PAYLOAD
                ? COMPOSITE_CUMULATOR.cumulate(alloc, cumulation, in)
                : MERGE_CUMULATOR.cumulate(alloc, cumulation, in));
        if (maxPayloadLength < 0) {
            throw new IllegalArgumentException("maxPayloadLength must not be negative: " + maxPayloadLength);
        }
        this.maxPayloadLength = maxPayloadLength;
    }

    /**
     * Sets the most descriptors one block status chunk may carry: a chunk header whose payload length announces
     * more fails with {@link NbdBadLengthException} before any of the payload is buffered (default: only the payload
     * limit applies). Call it before the decoder sees any input.
     *
     * @param max at least 1
     * @return this decoder
     */
    public NbdReplyDecoder maxBlockStatusDescriptors(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("maxBlockStatusDescriptors must be at least 1: " + max);
        }
        this.maxBlockStatusDescriptors = max;
        return this;
    }

    /**
     * Returns how many bytes this decoder has consumed.
     *
     * @return the stream offset
     */
    public long streamOffset() {
        return streamOffset;
    }

    /**
     * Returns how many bytes have reached this decoder, whole messages or not: what a caller watching for a server
     * that stalls in the middle of a reply compares over time. Read it on the channel's event loop.
     *
     * @return the bytes received so far
     */
    public long bytesReceived() {
        return bytesReceived;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof ByteBuf b) {
            bytesReceived += b.readableBytes();
        }
        super.channelRead(ctx, msg);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        for (;;) {
            switch (state) {
                case HEADER -> {
                    if (!decodeHeader(in, out)) {
                        return;
                    }
                }
                case SIMPLE_DATA -> {
                    if (in.readableBytes() < payloadLength) {
                        return;
                    }
                    ByteBuf data = in.readRetainedSlice(payloadLength);
                    finishMessage(NbdConstants.SIMPLE_REPLY_HEADER_LENGTH + (long) payloadLength);
                    if (sink != null) {
                        sink.simpleReply(cookie, data);
                        // Back to the pipeline before the next reply, as after a message.
                        return;
                    }
                    out.add(new NbdSimpleReply(cookie, NbdErrno.OK, data));
                }
                case CHUNK_PAYLOAD -> {
                    if (in.readableBytes() < payloadLength) {
                        return;
                    }
                    int end = in.readerIndex() + payloadLength;
                    if (sink != null && type == 0 && payloadLength == 0) {
                        finishMessage(chunkHeaderLength());
                        if (!sink.noneChunk(flags, cookie, headerOffset)) {
                            out.add(new NbdNoneChunk(flags, cookie, headerOffset));
                        }
                        return;
                    }
                    if (sink != null && type == 1) {
                        check(payloadLength >= 9, "NBD_REPLY_TYPE_OFFSET_DATA payload must be at least 9 bytes");
                        long offset = in.readLong();
                        ByteBuf data = in.readRetainedSlice(payloadLength - 8);
                        finishMessage(chunkHeaderLength() + (long) payloadLength);
                        sink.offsetData(flags, cookie, headerOffset, offset, data);
                        // Back to the pipeline before the next reply, as after a message.
                        return;
                    }
                    NbdReplyChunk chunk = decodeChunk(in);
                    in.readerIndex(end);
                    out.add(chunk);
                    finishMessage(chunkHeaderLength() + (long) payloadLength);
                }
                case FAILED -> {
                    in.skipBytes(in.readableBytes());
                    return;
                }
                default -> throw new IllegalStateException(state.name());
            }
            // Let the pipeline see each message before the next is decoded (the owner may change the resolver's
            // answers once a reply is handled).
            if (!out.isEmpty()) {
                return;
            }
        }
    }

    /** Payloads at least this large are cumulated without copying. */
    static final int LARGE_PAYLOAD = 32 * 1024;

    private boolean waitingForLargePayload() {
        return (state == State.CHUNK_PAYLOAD || state == State.SIMPLE_DATA) && payloadLength >= LARGE_PAYLOAD;
    }

    private int chunkHeaderLength() {
        return extendedHeaders ? NbdConstants.EXTENDED_REPLY_HEADER_LENGTH
                : NbdConstants.STRUCTURED_REPLY_HEADER_LENGTH;
    }

    private void finishMessage(long length) {
        streamOffset += length;
        state = State.HEADER;
    }

    /** Reads a header if all of it is there; returns false if more bytes are needed. */
    private boolean decodeHeader(ByteBuf in, List<Object> out) {
        if (in.readableBytes() < 4) {
            return false;
        }
        int start = in.readerIndex();
        int magic = in.getInt(start);
        if (magic == NbdConstants.SIMPLE_REPLY_MAGIC && !extendedHeaders) {
            if (in.readableBytes() < NbdConstants.SIMPLE_REPLY_HEADER_LENGTH) {
                return false;
            }
            errorCode = in.getInt(start + 4);
            cookie = in.getLong(start + 8);
            if (errorCode != 0) {
                in.skipBytes(NbdConstants.SIMPLE_REPLY_HEADER_LENGTH);
                out.add(new NbdSimpleReply(cookie, NbdErrno.valueOf(errorCode)));
                finishMessage(NbdConstants.SIMPLE_REPLY_HEADER_LENGTH);
                return true;
            }
            long length = resolver.simpleReplyDataLength(cookie);
            if (length < 0) {
                throw fail(new NbdUnknownCookieException(cookie, streamOffset));
            }
            if (length > maxPayloadLength) {
                throw fail(new NbdBadLengthException("simple reply data of " + length
                        + " bytes exceeds the limit of " + maxPayloadLength, length, streamOffset));
            }
            in.skipBytes(NbdConstants.SIMPLE_REPLY_HEADER_LENGTH);
            payloadLength = (int) length;
            state = State.SIMPLE_DATA;
            return true;
        }
        int expected = extendedHeaders ? NbdConstants.EXTENDED_REPLY_MAGIC : NbdConstants.STRUCTURED_REPLY_MAGIC;
        if (magic != expected) {
            throw fail(new NbdBadMagicException("reply header", magic & 0xffffffffL, extendedHeaders
                    ? "0x6e8a278c (extended reply; extended headers were negotiated)"
                    : "0x67446698 (simple reply) or 0x668e33ef (structured reply)", streamOffset));
        }
        int headerLength = chunkHeaderLength();
        if (in.readableBytes() < headerLength) {
            return false;
        }
        flags = in.getUnsignedShort(start + 4);
        type = in.getUnsignedShort(start + 6);
        cookie = in.getLong(start + 8);
        long length;
        if (extendedHeaders) {
            headerOffset = in.getLong(start + 16);
            length = in.getLong(start + 24);
        } else {
            headerOffset = 0;
            length = in.getUnsignedInt(start + 16);
        }
        if (Long.compareUnsigned(length, maxPayloadLength) > 0) {
            throw fail(new NbdBadLengthException(NbdReplyType.valueOf(type) + " chunk payload of "
                    + Long.toUnsignedString(length) + " bytes exceeds the limit of " + maxPayloadLength, length,
                    streamOffset));
        }
        if ((type == 5 || type == 6) && maxBlockStatusDescriptors != Long.MAX_VALUE) {
            long descriptors = type == 5 ? (length - 4) / 8 : (length - 8) / 16;
            if (descriptors > maxBlockStatusDescriptors) {
                throw fail(new NbdBadLengthException(NbdReplyType.valueOf(type) + " chunk of " + descriptors
                        + " extents exceeds the limit of " + maxBlockStatusDescriptors + " extents in one reply",
                        length, streamOffset));
            }
        }
        NbdReplyType replyType = NbdReplyType.valueOf(type);
        if (!replyType.isError() && !isKnownChunkType(type)) {
            throw fail(new NbdUnknownReplyTypeException(replyType, cookie, streamOffset));
        }
        in.skipBytes(headerLength);
        payloadLength = (int) length;
        state = State.CHUNK_PAYLOAD;
        return true;
    }

    private static boolean isKnownChunkType(int type) {
        return type == 0 || type == 1 || type == 2 || type == 5 || type == 6;
    }

    private NbdReplyChunk decodeChunk(ByteBuf in) {
        int length = payloadLength;
        switch (type) {
            case 0 -> {
                check(length == 0, "NBD_REPLY_TYPE_NONE must have no payload");
                return new NbdNoneChunk(flags, cookie, headerOffset);
            }
            case 1 -> {
                check(length >= 9, "NBD_REPLY_TYPE_OFFSET_DATA payload must be at least 9 bytes");
                long offset = in.readLong();
                return new NbdOffsetDataChunk(flags, cookie, headerOffset, offset, in.readRetainedSlice(length - 8));
            }
            case 2 -> {
                check(length == 12, "NBD_REPLY_TYPE_OFFSET_HOLE payload must be 12 bytes");
                return new NbdOffsetHoleChunk(flags, cookie, headerOffset, in.readLong(), in.readInt());
            }
            case 5 -> {
                check(!extendedHeaders, "NBD_REPLY_TYPE_BLOCK_STATUS must not be used with extended headers");
                check(length >= 12 && (length - 4) % 8 == 0,
                        "NBD_REPLY_TYPE_BLOCK_STATUS payload must be 4 + a positive multiple of 8 bytes");
                int contextId = in.readInt();
                // As they came: 32-bit fields, 8 bytes per descriptor, one array.
                int[] fields = new int[(length - 4) / 4];
                view(in, fields.length * 4).asIntBuffer().get(fields);
                return new NbdBlockStatusChunk(flags, cookie, headerOffset, contextId, fields);
            }
            case 6 -> {
                check(extendedHeaders, "NBD_REPLY_TYPE_BLOCK_STATUS_EXT needs extended headers");
                check(length >= 24 && (length - 8) % 16 == 0,
                        "NBD_REPLY_TYPE_BLOCK_STATUS_EXT payload must be 8 + a positive multiple of 16 bytes");
                int contextId = in.readInt();
                long count = in.readUnsignedInt();
                check(count * 16 + 8 == length, "NBD_REPLY_TYPE_BLOCK_STATUS_EXT descriptor count " + count
                        + " does not match its payload length " + length);
                long[] extents = new long[(int) count * 2];
                view(in, extents.length * 8).asLongBuffer().get(extents);
                return new NbdBlockStatusChunk(flags, cookie, headerOffset, true, contextId, extents, true);
            }
            default -> {
                return decodeErrorChunk(in, length);
            }
        }
    }

    /**
     * Reads {@code length} bytes as one big-endian NIO view: a reply may carry millions of descriptors, and reading
     * them field by field costs a bounds check each (and, under Netty's paranoid leak detection, a stack trace each).
     */
    private static ByteBuffer view(ByteBuf in, int length) {
        ByteBuffer b = in.nioBuffer(in.readerIndex(), length).order(ByteOrder.BIG_ENDIAN);
        in.skipBytes(length);
        return b;
    }

    private NbdErrorChunk decodeErrorChunk(ByteBuf in, int length) {
        NbdReplyType replyType = NbdReplyType.valueOf(type);
        boolean withOffset = replyType.equals(NbdReplyType.ERROR_OFFSET);
        int fixed = withOffset ? 14 : 6;
        check(length >= fixed, replyType + " payload must be at least " + fixed + " bytes");
        NbdErrno error = NbdErrno.valueOf(in.readInt());
        int messageLength = in.readUnsignedShort();
        check(messageLength <= length - fixed, replyType + " message length " + messageLength
                + " exceeds its payload length " + length);
        if (withOffset) {
            check(messageLength == length - fixed, replyType + " payload length " + length
                    + " does not match its message length " + messageLength);
        }
        String message = NbdCodecUtil.readString(in, messageLength);
        long errorOffset = withOffset ? in.readLong() : 0;
        return new NbdErrorChunk(flags, replyType, cookie, headerOffset, error, message, errorOffset, length);
    }

    private void check(boolean ok, String what) {
        if (!ok) {
            throw fail(new NbdMalformedMessageException(what + " (cookie " + Long.toUnsignedString(cookie) + ")",
                    streamOffset));
        }
    }

    private NbdDecoderException fail(NbdDecoderException e) {
        state = State.FAILED;
        return e;
    }

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        decode(ctx, in, out);
        if (state == State.FAILED) {
            return;
        }
        if (in.isReadable() || state != State.HEADER) {
            String what = switch (state) {
                case SIMPLE_DATA -> "the data of a simple reply";
                case CHUNK_PAYLOAD -> "the payload of a " + NbdReplyType.valueOf(type) + " chunk";
                default -> "a reply header";
            };
            int received = in.readableBytes();
            in.skipBytes(received);
            state = State.FAILED;
            throw new NbdTruncatedMessageException(what, received, streamOffset);
        }
    }
}
