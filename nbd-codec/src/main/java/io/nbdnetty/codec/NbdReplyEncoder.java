package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Encodes {@link NbdReply}s, for servers: simple replies (16-byte header plus READ data), and chunks with a
 * structured (20-byte) or extended (32-byte) header. Data is passed on retained, not copied.
 *
 * <p>It encodes what it is given, even what a conforming server would not send (a simple reply under extended
 * headers, a 32-bit block status chunk in extended mode): test servers need to misbehave on purpose.
 */
public final class NbdReplyEncoder extends MessageToMessageEncoder<NbdReply> {
    private final boolean extendedHeaders;

    /**
     * Creates an encoder.
     *
     * @param extendedHeaders true to write chunks with extended headers
     */
    public NbdReplyEncoder(boolean extendedHeaders) {
        super(NbdReply.class);
        this.extendedHeaders = extendedHeaders;
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, NbdReply msg, List<Object> out) {
        encode(ctx.alloc(), msg, out, extendedHeaders);
    }

    /**
     * Encodes one reply; usable without a channel. The reply is not released.
     *
     * @param alloc the allocator for headers
     * @param msg the reply
     * @param out receives the buffers
     * @param extendedHeaders whether chunks get extended headers
     */
    public static void encode(ByteBufAllocator alloc, NbdReply msg, List<Object> out, boolean extendedHeaders) {
        if (msg instanceof NbdSimpleReply r) {
            ByteBuf header = alloc.ioBuffer(NbdConstants.SIMPLE_REPLY_HEADER_LENGTH);
            header.writeInt(NbdConstants.SIMPLE_REPLY_MAGIC).writeInt(r.error().code()).writeLong(r.cookie());
            out.add(header);
            if (r.data().isReadable()) {
                out.add(r.data().retain());
            }
            return;
        }
        NbdReplyChunk chunk = (NbdReplyChunk) msg;
        long payloadLength = chunk instanceof NbdErrorChunk e ? errorPayloadLength(e) : chunk.payloadLength();
        int headerLength = extendedHeaders ? NbdConstants.EXTENDED_REPLY_HEADER_LENGTH
                : NbdConstants.STRUCTURED_REPLY_HEADER_LENGTH;
        int inline = chunk instanceof NbdOffsetDataChunk ? 8 : (int) payloadLength;
        ByteBuf buf = alloc.ioBuffer(headerLength + inline);
        buf.writeInt(extendedHeaders ? NbdConstants.EXTENDED_REPLY_MAGIC : NbdConstants.STRUCTURED_REPLY_MAGIC)
                .writeShort(chunk.flags()).writeShort(chunk.type().code()).writeLong(chunk.cookie());
        if (extendedHeaders) {
            buf.writeLong(chunk.headerOffset()).writeLong(payloadLength);
        } else {
            buf.writeInt((int) payloadLength);
        }
        if (chunk instanceof NbdOffsetDataChunk d) {
            buf.writeLong(d.offset());
            out.add(buf);
            out.add(d.data().retain());
            return;
        }
        if (chunk instanceof NbdOffsetHoleChunk h) {
            buf.writeLong(h.offset()).writeInt(h.holeSize());
        } else if (chunk instanceof NbdBlockStatusChunk b) {
            buf.writeInt(b.contextId());
            if (b.isExtended()) {
                buf.writeInt(b.extentCount());
            }
            for (int i = 0; i < b.extentCount(); i++) {
                if (b.isExtended()) {
                    buf.writeLong(b.extentLength(i)).writeLong(b.extentStatus(i));
                } else {
                    buf.writeInt((int) b.extentLength(i)).writeInt((int) b.extentStatus(i));
                }
            }
        } else if (chunk instanceof NbdErrorChunk e) {
            byte[] message = e.message().getBytes(StandardCharsets.UTF_8);
            buf.writeInt(e.error().code()).writeShort(message.length).writeBytes(message);
            if (e.hasErrorOffset()) {
                buf.writeLong(e.errorOffset());
            }
        }
        out.add(buf);
    }

    private static long errorPayloadLength(NbdErrorChunk e) {
        return 6L + NbdCodecUtil.utf8(e.message(), "error message").length + (e.hasErrorOffset() ? 8 : 0);
    }
}
