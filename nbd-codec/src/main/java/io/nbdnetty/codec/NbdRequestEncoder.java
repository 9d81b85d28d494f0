package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.EncoderException;
import io.netty.handler.codec.MessageToMessageEncoder;

import java.util.List;

/**
 * Encodes {@link NbdRequest}s as compact (28-byte) or extended (32-byte) headers, followed by the payload. The
 * payload is passed on retained, not copied, unless it is small enough that one write of header and payload is
 * cheaper.
 *
 * <p>It writes the fields it is given; choosing flags and lengths that suit the negotiated mode is the client's job.
 * It refuses only what cannot be encoded: a compact length over 32 bits.
 */
public final class NbdRequestEncoder extends MessageToMessageEncoder<NbdRequest> {
    /** Payloads up to this many bytes are copied next to the header instead of written separately. */
    public static final int COPY_THRESHOLD = 1024;

    private final boolean extendedHeaders;

    /**
     * Creates an encoder.
     *
     * @param extendedHeaders true if extended headers were negotiated
     */
    public NbdRequestEncoder(boolean extendedHeaders) {
        super(NbdRequest.class);
        this.extendedHeaders = extendedHeaders;
    }

    /**
     * Whether this encoder writes extended headers.
     *
     * @return true for extended headers
     */
    public boolean isExtendedHeaders() {
        return extendedHeaders;
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, NbdRequest msg, List<Object> out) {
        encode(ctx.alloc(), msg, out, extendedHeaders);
    }

    /**
     * Encodes one request; usable without a channel. The request is not released.
     *
     * @param alloc the allocator for the header
     * @param msg the request
     * @param out receives the header buffer and, if separate, the retained payload
     * @param extendedHeaders whether to write an extended header
     */
    public static void encode(ByteBufAllocator alloc, NbdRequest msg, List<Object> out, boolean extendedHeaders) {
        ByteBuf payload = msg.payload();
        int payloadLength = payload.readableBytes();
        boolean copy = payloadLength <= COPY_THRESHOLD;
        ByteBuf header = encodeHeader(alloc, msg.flags(), msg.type(), msg.cookie(), msg.offset(), msg.length(),
                extendedHeaders, copy ? payloadLength : 0);
        if (copy) {
            header.writeBytes(payload, payload.readerIndex(), payloadLength);
            out.add(header);
        } else {
            out.add(header);
            out.add(payload.retain());
        }
    }

    /**
     * Allocates a buffer and writes one request header in it, without a message object: for a client that writes
     * the buffer to the channel itself (this encoder passes buffers on untouched). The buffer has room for {@code
     * extraCapacity} more bytes after the header, for a small payload copied next to it (see {@link
     * #COPY_THRESHOLD}).
     *
     * @param alloc the allocator
     * @param flags the {@link NbdCommandFlags}, 16 bits
     * @param type the command
     * @param cookie the cookie
     * @param offset the offset (unsigned)
     * @param length the length field (unsigned; see {@link NbdRequest#length()})
     * @param extendedHeaders whether to write an extended (32-byte) header instead of a compact (28-byte) one
     * @param extraCapacity bytes to reserve after the header
     * @return the header, which the caller owns
     * @throws EncoderException if the length does not fit a compact header
     */
    public static ByteBuf encodeHeader(ByteBufAllocator alloc, int flags, NbdCommandType type, long cookie,
            long offset, long length, boolean extendedHeaders, int extraCapacity) {
        if (!extendedHeaders && (length & ~0xffffffffL) != 0) {
            throw new EncoderException("length " + Long.toUnsignedString(length)
                    + " does not fit a compact request header; extended headers were not negotiated");
        }
        int headerLength = extendedHeaders ? NbdConstants.EXTENDED_REQUEST_HEADER_LENGTH
                : NbdConstants.REQUEST_HEADER_LENGTH;
        ByteBuf header = alloc.ioBuffer(headerLength + extraCapacity);
        header.writeInt(extendedHeaders ? NbdConstants.EXTENDED_REQUEST_MAGIC : NbdConstants.REQUEST_MAGIC)
                .writeShort(flags).writeShort(type.code()).writeLong(cookie).writeLong(offset);
        if (extendedHeaders) {
            header.writeLong(length);
        } else {
            header.writeInt((int) length);
        }
        return header;
    }
}
