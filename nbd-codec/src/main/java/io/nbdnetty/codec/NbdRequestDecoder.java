package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.util.List;

/**
 * Decodes {@link NbdRequest}s, for servers. In compact mode a WRITE carries {@code length} bytes of payload; in
 * extended mode a WRITE does too, and so does any other request with {@link NbdCommandFlags#PAYLOAD_LEN}. Payloads
 * are retained slices of the received bytes, checked against a limit before the decoder waits for them. Not
 * sharable.
 *
 * <p>A WRITE always carries its data: proto-extended-headers.md says a client "MUST use the flag
 * NBD_CMD_FLAG_PAYLOAD_LEN" on NBD_CMD_WRITE in extended mode, but real clients do not all do so (qemu 10 sends
 * extended WRITEs without it, and qemu's own server accepts them), so the decoder reads the data whether the flag
 * is set or not and keeps the flags as received; the server decides what to make of them.
 */
public final class NbdRequestDecoder extends ByteToMessageDecoder {
    /** Default limit for one request payload: 32 MiB, the spec's default maximum payload. */
    public static final int DEFAULT_MAX_PAYLOAD_LENGTH = 32 * 1024 * 1024;

    private final boolean extendedHeaders;
    private final int maxPayloadLength;
    private boolean failed;
    private long streamOffset;

    /**
     * Creates a decoder.
     *
     * @param extendedHeaders true if extended headers were negotiated
     * @param maxPayloadLength the largest payload accepted
     */
    public NbdRequestDecoder(boolean extendedHeaders, int maxPayloadLength) {
        this.extendedHeaders = extendedHeaders;
        if (maxPayloadLength < 0) {
            throw new IllegalArgumentException("maxPayloadLength must not be negative: " + maxPayloadLength);
        }
        this.maxPayloadLength = maxPayloadLength;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (failed) {
            in.skipBytes(in.readableBytes());
            return;
        }
        int headerLength = extendedHeaders ? NbdConstants.EXTENDED_REQUEST_HEADER_LENGTH
                : NbdConstants.REQUEST_HEADER_LENGTH;
        if (in.readableBytes() < headerLength) {
            return;
        }
        int start = in.readerIndex();
        int magic = in.getInt(start);
        int expected = extendedHeaders ? NbdConstants.EXTENDED_REQUEST_MAGIC : NbdConstants.REQUEST_MAGIC;
        if (magic != expected) {
            failed = true;
            throw new NbdBadMagicException("request header", magic & 0xffffffffL,
                    extendedHeaders ? "0x21e41c71 (extended)" : "0x25609513 (compact)", streamOffset);
        }
        int flags = in.getUnsignedShort(start + 4);
        NbdCommandType type = NbdCommandType.valueOf(in.getUnsignedShort(start + 6));
        long cookie = in.getLong(start + 8);
        long offset = in.getLong(start + 16);
        long length = extendedHeaders ? in.getLong(start + 24) : in.getUnsignedInt(start + 24);
        boolean hasPayload = type.equals(NbdCommandType.WRITE)
                || extendedHeaders && (flags & NbdCommandFlags.PAYLOAD_LEN) != 0;
        long payloadLength = hasPayload ? length : 0;
        if (Long.compareUnsigned(payloadLength, maxPayloadLength) > 0) {
            failed = true;
            throw new NbdBadLengthException(type + " payload of " + Long.toUnsignedString(payloadLength)
                    + " bytes exceeds the limit of " + maxPayloadLength, payloadLength, streamOffset);
        }
        if (in.readableBytes() < headerLength + payloadLength) {
            return;
        }
        in.skipBytes(headerLength);
        ByteBuf payload = payloadLength == 0 ? Unpooled.EMPTY_BUFFER : in.readRetainedSlice((int) payloadLength);
        out.add(new NbdRequest(flags, type, cookie, offset, length, payload));
        streamOffset += headerLength + payloadLength;
    }

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        decode(ctx, in, out);
        if (in.isReadable() && !failed) {
            int received = in.readableBytes();
            in.skipBytes(received);
            failed = true;
            throw new NbdTruncatedMessageException("a request", received, streamOffset);
        }
    }
}
