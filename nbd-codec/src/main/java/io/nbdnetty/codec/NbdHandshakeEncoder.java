package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;

/**
 * Encodes every {@link NbdHandshakeMessage}, in both directions: greetings, client flags, option requests, option
 * replies and the {@code NBD_OPT_EXPORT_NAME} reply. Stateless and {@link Sharable}.
 */
@Sharable
public final class NbdHandshakeEncoder extends MessageToByteEncoder<NbdHandshakeMessage> {
    /** The shared instance. */
    public static final NbdHandshakeEncoder INSTANCE = new NbdHandshakeEncoder();

    private static final int ZERO_PAD = NbdConstants.EXPORT_NAME_REPLY_ZEROES;

    private NbdHandshakeEncoder() {
        super(NbdHandshakeMessage.class, false);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, NbdHandshakeMessage msg, ByteBuf out) {
        encode(msg, out);
    }

    /**
     * Encodes one message into a buffer; usable without a channel (tests, golden bytes, tools).
     *
     * @param msg the message
     * @param out where to write
     */
    public static void encode(NbdHandshakeMessage msg, ByteBuf out) {
        if (msg instanceof NbdOptionRequest request) {
            encodeOptionRequest(request, out);
        } else if (msg instanceof NbdOptionReply reply) {
            encodeOptionReply(reply, out);
        } else if (msg instanceof NbdNewstyleGreeting g) {
            out.writeLong(NbdConstants.NBDMAGIC).writeLong(NbdConstants.IHAVEOPT).writeShort(g.handshakeFlags());
        } else if (msg instanceof NbdOldstyleGreeting g) {
            out.writeLong(NbdConstants.NBDMAGIC).writeLong(NbdConstants.CLISERV_MAGIC).writeLong(g.exportSize())
                    .writeInt(g.flags()).writeZero(ZERO_PAD);
        } else if (msg instanceof NbdClientFlagsMessage f) {
            out.writeInt(f.clientFlags());
        } else if (msg instanceof NbdExportNameReply r) {
            out.writeLong(r.exportSize()).writeShort(r.transmissionFlags());
            if (r.zeroPadded()) {
                out.writeZero(ZERO_PAD);
            }
        } else {
            throw new IllegalArgumentException("unexpected message " + msg);
        }
    }

    private static void encodeOptionRequest(NbdOptionRequest request, ByteBuf out) {
        out.writeLong(NbdConstants.IHAVEOPT).writeInt(request.option().code());
        int lengthIndex = out.writerIndex();
        out.writeInt(0);
        if (request instanceof NbdExportNameOption o) {
            out.writeBytes(NbdCodecUtil.utf8(o.exportName(), "export name"));
        } else if (request instanceof NbdExportInfoOption o) {
            writeLengthPrefixed(out, o.exportName(), "export name");
            out.writeShort(o.infoRequests().size());
            for (NbdInfoType t : o.infoRequests()) {
                out.writeShort(t.code());
            }
        } else if (request instanceof NbdMetaContextOption o) {
            writeLengthPrefixed(out, o.exportName(), "export name");
            out.writeInt(o.queries().size());
            for (String q : o.queries()) {
                writeLengthPrefixed(out, q, "metadata context query");
            }
        } else if (request instanceof NbdRawOption o) {
            out.writeBytes(o.data());
        } else if (!(request instanceof NbdBareOption)) {
            throw new IllegalArgumentException("unexpected option request " + request);
        }
        out.setInt(lengthIndex, out.writerIndex() - lengthIndex - 4);
    }

    private static void encodeOptionReply(NbdOptionReply reply, ByteBuf out) {
        out.writeLong(NbdConstants.OPTION_REPLY_MAGIC).writeInt(reply.option().code()).writeInt(reply.type().code());
        int lengthIndex = out.writerIndex();
        out.writeInt(0);
        if (reply instanceof NbdServerReply r) {
            writeLengthPrefixed(out, r.exportName(), "export name");
            out.writeBytes(NbdCodecUtil.utf8(r.description(), "export description"));
        } else if (reply instanceof NbdInfoReply r) {
            encodeInfo(r.info(), out);
        } else if (reply instanceof NbdMetaContextReply r) {
            out.writeInt(r.contextId()).writeBytes(NbdCodecUtil.utf8(r.name(), "metadata context name"));
        } else if (reply instanceof NbdErrorReply r) {
            out.writeBytes(NbdCodecUtil.utf8(r.message(), "error message"));
        } else if (reply instanceof NbdUnknownOptionReply r) {
            out.writeBytes(r.data());
        } else if (!(reply instanceof NbdAckReply)) {
            throw new IllegalArgumentException("unexpected option reply " + reply);
        }
        out.setInt(lengthIndex, out.writerIndex() - lengthIndex - 4);
    }

    private static void encodeInfo(NbdInfo info, ByteBuf out) {
        out.writeShort(info.type().code());
        if (info instanceof NbdInfo.Export e) {
            out.writeLong(e.exportSize()).writeShort(e.transmissionFlags());
        } else if (info instanceof NbdInfo.Name n) {
            out.writeBytes(NbdCodecUtil.utf8(n.name(), "export name"));
        } else if (info instanceof NbdInfo.Description d) {
            out.writeBytes(NbdCodecUtil.utf8(d.description(), "export description"));
        } else if (info instanceof NbdInfo.BlockSize b) {
            out.writeInt(b.minimum()).writeInt(b.preferred()).writeInt(b.maximum());
        } else if (info instanceof NbdInfo.Unknown u) {
            out.writeBytes(u.data());
        }
    }

    private static void writeLengthPrefixed(ByteBuf out, String s, String what) {
        byte[] bytes = NbdCodecUtil.utf8(s, what);
        out.writeInt(bytes.length).writeBytes(bytes);
    }
}
