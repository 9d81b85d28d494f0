package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.util.List;

/**
 * Decodes what a server sends during the handshake: the greeting ({@link NbdNewstyleGreeting} or {@link
 * NbdOldstyleGreeting}), then {@link NbdOptionReply}s, or the {@link NbdExportNameReply} once the owner has called
 * {@link #expectExportNameReply(boolean)}.
 *
 * <p>After an oldstyle greeting or an export-name reply the decoder stops consuming input: the transmission phase has
 * begun and its bytes belong to the next decoder. The owner replaces this decoder then (Netty hands any bytes left
 * in it to the handler that follows). Every option reply length is checked against a limit before anything is
 * allocated. Not sharable; one per channel.
 */
public final class NbdClientHandshakeDecoder extends ByteToMessageDecoder {
    /** Default limit for the data of one option reply. */
    public static final int DEFAULT_MAX_OPTION_REPLY_LENGTH = 64 * 1024;

    private enum State { GREETING, OPTION_REPLY, EXPORT_NAME_REPLY, AWAITING_TLS, DONE, FAILED }

    private final int maxOptionReplyLength;
    private State state = State.GREETING;
    private boolean exportNameZeroPadded;
    private long streamOffset;

    /** Creates a decoder with the default limit. */
    public NbdClientHandshakeDecoder() {
        this(DEFAULT_MAX_OPTION_REPLY_LENGTH);
    }

    /**
     * Creates a decoder.
     *
     * @param maxOptionReplyLength the largest option reply data accepted, in bytes
     */
    public NbdClientHandshakeDecoder(int maxOptionReplyLength) {
        if (maxOptionReplyLength < 0) {
            throw new IllegalArgumentException("maxOptionReplyLength must not be negative: " + maxOptionReplyLength);
        }
        this.maxOptionReplyLength = maxOptionReplyLength;
    }

    /**
     * Tells the decoder that {@code NBD_OPT_EXPORT_NAME} was sent, so the next bytes are its reply. Call from the
     * channel's event loop before writing the option.
     *
     * @param zeroPadded whether 124 zero bytes follow (NO_ZEROES was not agreed)
     */
    public void expectExportNameReply(boolean zeroPadded) {
        if (state != State.OPTION_REPLY) {
            throw new IllegalStateException("an export name reply cannot follow in state " + state);
        }
        exportNameZeroPadded = zeroPadded;
        state = State.EXPORT_NAME_REPLY;
    }

    /**
     * Tells the decoder that the TLS session that {@code NBD_OPT_STARTTLS} started is up, so option replies follow
     * (now decrypted by the TLS handler in front of this decoder). Until then, after the ACK of {@code
     * NBD_OPT_STARTTLS}, any byte that reaches this decoder is plain text where only TLS may follow, and fails it:
     * a man in the middle must not be able to inject plain-text replies that would seem to come through TLS. Call
     * from the channel's event loop.
     */
    public void tlsEstablished() {
        if (state == State.AWAITING_TLS) {
            state = State.OPTION_REPLY;
        }
    }

    /**
     * Whether the decoder has seen the end of the handshake (oldstyle greeting or export-name reply).
     *
     * @return true when done
     */
    public boolean isDone() {
        return state == State.DONE;
    }

    /**
     * Returns how many bytes this decoder has consumed.
     *
     * @return the stream offset
     */
    public long streamOffset() {
        return streamOffset;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        switch (state) {
            case GREETING -> decodeGreeting(in, out);
            case OPTION_REPLY -> decodeOptionReply(in, out);
            case EXPORT_NAME_REPLY -> decodeExportNameReply(in, out);
            case AWAITING_TLS -> {
                if (in.isReadable()) {
                    int n = in.readableBytes();
                    in.skipBytes(n);
                    throw fail(new NbdMalformedMessageException(n + " byte(s) of plain text after the ACK of "
                            + "NBD_OPT_STARTTLS, where only the TLS handshake may follow", streamOffset));
                }
            }
            case FAILED -> in.skipBytes(in.readableBytes());
            case DONE -> {
                // Transmission-phase bytes: leave them for the next decoder.
            }
            default -> throw new IllegalStateException(state.name());
        }
    }

    private void decodeGreeting(ByteBuf in, List<Object> out) {
        if (in.readableBytes() < 16) {
            return;
        }
        int start = in.readerIndex();
        long magic = in.getLong(start);
        if (magic != NbdConstants.NBDMAGIC) {
            throw fail(new NbdBadMagicException("server greeting", magic, "NBDMAGIC", streamOffset));
        }
        long second = in.getLong(start + 8);
        if (second == NbdConstants.IHAVEOPT) {
            if (in.readableBytes() < NbdConstants.NEWSTYLE_GREETING_LENGTH) {
                return;
            }
            in.skipBytes(16);
            out.add(new NbdNewstyleGreeting(in.readUnsignedShort()));
            consumed(NbdConstants.NEWSTYLE_GREETING_LENGTH);
            state = State.OPTION_REPLY;
        } else if (second == NbdConstants.CLISERV_MAGIC) {
            if (in.readableBytes() < NbdConstants.OLDSTYLE_GREETING_LENGTH) {
                return;
            }
            in.skipBytes(16);
            long size = in.readLong();
            int flags = in.readInt();
            in.skipBytes(NbdConstants.EXPORT_NAME_REPLY_ZEROES);
            out.add(new NbdOldstyleGreeting(size, flags));
            consumed(NbdConstants.OLDSTYLE_GREETING_LENGTH);
            state = State.DONE;
        } else {
            throw fail(new NbdBadMagicException("server greeting (second magic)", second,
                    "IHAVEOPT (newstyle) or 0x00420281861253 (oldstyle)", streamOffset + 8));
        }
    }

    private void decodeOptionReply(ByteBuf in, List<Object> out) {
        if (in.readableBytes() < NbdConstants.OPTION_REPLY_HEADER_LENGTH) {
            return;
        }
        int start = in.readerIndex();
        long magic = in.getLong(start);
        if (magic != NbdConstants.OPTION_REPLY_MAGIC) {
            throw fail(new NbdBadMagicException("option reply", magic, "0x3e889045565a9", streamOffset));
        }
        long length = in.getUnsignedInt(start + 16);
        if (length > maxOptionReplyLength) {
            throw fail(new NbdBadLengthException("option reply of " + length + " bytes exceeds the limit of "
                    + maxOptionReplyLength, length, streamOffset));
        }
        if (in.readableBytes() < NbdConstants.OPTION_REPLY_HEADER_LENGTH + length) {
            return;
        }
        in.skipBytes(8);
        NbdOption option = NbdOption.valueOf(in.readInt());
        NbdOptionReplyType type = NbdOptionReplyType.valueOf(in.readInt());
        in.skipBytes(4);
        ByteBuf data = in.readSlice((int) length);
        NbdOptionReply reply = parseOptionReply(option, type, data);
        out.add(reply);
        consumed(NbdConstants.OPTION_REPLY_HEADER_LENGTH + length);
        if (reply instanceof NbdAckReply && option.equals(NbdOption.STARTTLS)) {
            // Whatever follows in this read was sent in the clear: it must not be taken for TLS-protected replies.
            state = State.AWAITING_TLS;
        }
    }

    private NbdOptionReply parseOptionReply(NbdOption option, NbdOptionReplyType type, ByteBuf data) {
        int length = data.readableBytes();
        if (type.isError()) {
            return new NbdErrorReply(option, type, NbdCodecUtil.readString(data, length));
        }
        if (type.equals(NbdOptionReplyType.ACK)) {
            requireLength(length == 0, "NBD_REP_ACK", length, "0");
            return new NbdAckReply(option);
        }
        if (type.equals(NbdOptionReplyType.SERVER)) {
            requireLength(length >= 4, "NBD_REP_SERVER", length, "at least 4");
            long nameLength = data.readUnsignedInt();
            if (nameLength > length - 4) {
                throw fail(new NbdMalformedMessageException("NBD_REP_SERVER name length " + nameLength
                        + " exceeds the " + (length - 4) + " bytes that follow", streamOffset));
            }
            String name = readProtocolString(data, (int) nameLength, "NBD_REP_SERVER export name");
            String description = readProtocolString(data, data.readableBytes(), "NBD_REP_SERVER description");
            return new NbdServerReply(option, name, description);
        }
        if (type.equals(NbdOptionReplyType.INFO)) {
            requireLength(length >= 2, "NBD_REP_INFO", length, "at least 2");
            return new NbdInfoReply(option, parseInfo(NbdInfoType.valueOf(data.readUnsignedShort()), data));
        }
        if (type.equals(NbdOptionReplyType.META_CONTEXT)) {
            requireLength(length >= 4, "NBD_REP_META_CONTEXT", length, "at least 4");
            int id = data.readInt();
            return new NbdMetaContextReply(option, id,
                    readProtocolString(data, data.readableBytes(), "metadata context name"));
        }
        return new NbdUnknownOptionReply(option, type, NbdCodecUtil.readBytes(data, length));
    }

    private NbdInfo parseInfo(NbdInfoType infoType, ByteBuf data) {
        int length = data.readableBytes();
        if (infoType.equals(NbdInfoType.EXPORT)) {
            requireLength(length == 10, "NBD_INFO_EXPORT", length + 2, "12");
            return new NbdInfo.Export(data.readLong(), data.readUnsignedShort());
        }
        if (infoType.equals(NbdInfoType.NAME)) {
            return new NbdInfo.Name(readProtocolString(data, length, "NBD_INFO_NAME"));
        }
        if (infoType.equals(NbdInfoType.DESCRIPTION)) {
            return new NbdInfo.Description(readProtocolString(data, length, "NBD_INFO_DESCRIPTION"));
        }
        if (infoType.equals(NbdInfoType.BLOCK_SIZE)) {
            requireLength(length == 12, "NBD_INFO_BLOCK_SIZE", length + 2, "14");
            return new NbdInfo.BlockSize(data.readInt(), data.readInt(), data.readInt());
        }
        return new NbdInfo.Unknown(infoType, NbdCodecUtil.readBytes(data, length));
    }

    private String readProtocolString(ByteBuf data, int length, String what) {
        if (length > NbdConstants.MAX_STRING_LENGTH) {
            throw fail(new NbdMalformedMessageException(what + " is " + length + " bytes; the protocol allows "
                    + NbdConstants.MAX_STRING_LENGTH, streamOffset));
        }
        return NbdCodecUtil.readString(data, length);
    }

    private void requireLength(boolean ok, String what, int length, String expected) {
        if (!ok) {
            throw fail(new NbdMalformedMessageException(what + " with " + length + " bytes of data, expected "
                    + expected, streamOffset));
        }
    }

    private void decodeExportNameReply(ByteBuf in, List<Object> out) {
        int needed = NbdConstants.EXPORT_NAME_REPLY_LENGTH
                + (exportNameZeroPadded ? NbdConstants.EXPORT_NAME_REPLY_ZEROES : 0);
        if (in.readableBytes() < needed) {
            return;
        }
        long size = in.readLong();
        int flags = in.readUnsignedShort();
        in.skipBytes(needed - NbdConstants.EXPORT_NAME_REPLY_LENGTH);
        out.add(new NbdExportNameReply(size, flags, exportNameZeroPadded));
        consumed(needed);
        state = State.DONE;
    }

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        decode(ctx, in, out);
        if (in.isReadable() && state != State.DONE && state != State.FAILED) {
            String what = switch (state) {
                case GREETING -> "the server greeting";
                case EXPORT_NAME_REPLY -> "the export name reply";
                default -> "an option reply";
            };
            int received = in.readableBytes();
            in.skipBytes(received);
            throw fail(new NbdTruncatedMessageException(what, received, streamOffset));
        }
    }

    private void consumed(long n) {
        streamOffset += n;
    }

    private NbdDecoderException fail(NbdDecoderException e) {
        state = State.FAILED;
        return e;
    }
}
