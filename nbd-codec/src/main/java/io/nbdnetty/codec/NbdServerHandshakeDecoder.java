package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.util.ArrayList;
import java.util.List;

/**
 * Decodes what a client sends during the newstyle handshake, for servers: the {@link NbdClientFlagsMessage}, then
 * {@link NbdOptionRequest}s. Option data that does not have the layout the spec gives a known option is handed on as
 * an {@link NbdRawOption} marked malformed, so the server can answer {@code NBD_REP_ERR_INVALID} and carry on.
 *
 * <p>Call {@link #finish()} when the handshake is over (after the export name reply or the ACK of {@code NBD_OPT_GO}):
 * the decoder then leaves all further bytes for the transmission decoder that replaces it. Not sharable.
 */
public final class NbdServerHandshakeDecoder extends ByteToMessageDecoder {
    /** Default limit for the data of one option request. */
    public static final int DEFAULT_MAX_OPTION_LENGTH = 64 * 1024;

    private enum State { CLIENT_FLAGS, OPTION, DONE, FAILED }

    private final int maxOptionLength;
    private State state = State.CLIENT_FLAGS;
    private long streamOffset;

    /** Creates a decoder with the default limit. */
    public NbdServerHandshakeDecoder() {
        this(DEFAULT_MAX_OPTION_LENGTH);
    }

    /**
     * Creates a decoder.
     *
     * @param maxOptionLength the largest option data accepted, in bytes
     */
    public NbdServerHandshakeDecoder(int maxOptionLength) {
        if (maxOptionLength < 0) {
            throw new IllegalArgumentException("maxOptionLength must not be negative: " + maxOptionLength);
        }
        this.maxOptionLength = maxOptionLength;
    }

    /** Stops decoding: what follows belongs to the transmission phase. Call from the event loop. */
    public void finish() {
        state = State.DONE;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        switch (state) {
            case CLIENT_FLAGS -> {
                if (in.readableBytes() >= 4) {
                    out.add(new NbdClientFlagsMessage(in.readInt()));
                    streamOffset += 4;
                    state = State.OPTION;
                }
            }
            case OPTION -> decodeOption(in, out);
            case FAILED -> in.skipBytes(in.readableBytes());
            case DONE -> {
                // Transmission-phase bytes: leave them for the next decoder.
            }
            default -> throw new IllegalStateException(state.name());
        }
    }

    private void decodeOption(ByteBuf in, List<Object> out) {
        if (in.readableBytes() < NbdConstants.OPTION_REQUEST_HEADER_LENGTH) {
            return;
        }
        int start = in.readerIndex();
        long magic = in.getLong(start);
        if (magic != NbdConstants.IHAVEOPT) {
            state = State.FAILED;
            throw new NbdBadMagicException("option request", magic, "IHAVEOPT", streamOffset);
        }
        long length = in.getUnsignedInt(start + 12);
        if (length > maxOptionLength) {
            state = State.FAILED;
            throw new NbdBadLengthException("option request of " + length + " bytes exceeds the limit of "
                    + maxOptionLength, length, streamOffset);
        }
        if (in.readableBytes() < NbdConstants.OPTION_REQUEST_HEADER_LENGTH + length) {
            return;
        }
        NbdOption option = NbdOption.valueOf(in.getInt(start + 8));
        in.skipBytes(NbdConstants.OPTION_REQUEST_HEADER_LENGTH);
        ByteBuf data = in.readSlice((int) length);
        out.add(parseOption(option, data));
        streamOffset += NbdConstants.OPTION_REQUEST_HEADER_LENGTH + length;
    }

    private static NbdOptionRequest parseOption(NbdOption option, ByteBuf data) {
        int start = data.readerIndex();
        NbdOptionRequest parsed = tryParse(option, data);
        if (parsed != null && !data.isReadable()) {
            return parsed;
        }
        data.readerIndex(start);
        // A withdrawn option (NBD_OPT_PEEK_EXPORT) is as unknown to a server as a new one: not malformed.
        boolean malformed = option.isKnown() && !option.equals(NbdOption.PEEK_EXPORT);
        return new NbdRawOption(option, NbdCodecUtil.readBytes(data, data.readableBytes()), malformed);
    }

    /** Returns the parsed option, or null if the data does not fit the option's layout. */
    private static NbdOptionRequest tryParse(NbdOption option, ByteBuf data) {
        if (option.equals(NbdOption.EXPORT_NAME)) {
            String name = readString(data, data.readableBytes());
            return name == null ? null : new NbdExportNameOption(name);
        }
        if (option.equals(NbdOption.ABORT) || option.equals(NbdOption.LIST) || option.equals(NbdOption.STARTTLS)
                || option.equals(NbdOption.STRUCTURED_REPLY) || option.equals(NbdOption.EXTENDED_HEADERS)) {
            return new NbdBareOption(option);
        }
        if (option.equals(NbdOption.INFO) || option.equals(NbdOption.GO)) {
            String name = readLengthPrefixed(data);
            if (name == null || data.readableBytes() < 2) {
                return null;
            }
            int count = data.readUnsignedShort();
            if (data.readableBytes() != 2 * count) {
                return null;
            }
            List<NbdInfoType> requests = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                requests.add(NbdInfoType.valueOf(data.readUnsignedShort()));
            }
            return new NbdExportInfoOption(option, name, requests);
        }
        if (option.equals(NbdOption.LIST_META_CONTEXT) || option.equals(NbdOption.SET_META_CONTEXT)) {
            String name = readLengthPrefixed(data);
            if (name == null || data.readableBytes() < 4) {
                return null;
            }
            long count = data.readUnsignedInt();
            // Each query takes at least 4 bytes: a count larger than that cannot be honest.
            if (count > data.readableBytes() / 4) {
                return null;
            }
            List<String> queries = new ArrayList<>((int) count);
            for (long i = 0; i < count; i++) {
                String q = readLengthPrefixed(data);
                if (q == null) {
                    return null;
                }
                queries.add(q);
            }
            return new NbdMetaContextOption(option, name, queries);
        }
        return null;
    }

    private static String readLengthPrefixed(ByteBuf data) {
        if (data.readableBytes() < 4) {
            return null;
        }
        long length = data.readUnsignedInt();
        return length > data.readableBytes() ? null : readString(data, (int) length);
    }

    private static String readString(ByteBuf data, int length) {
        return length > NbdConstants.MAX_STRING_LENGTH ? null : NbdCodecUtil.readString(data, length);
    }

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        decode(ctx, in, out);
        if (in.isReadable() && (state == State.CLIENT_FLAGS || state == State.OPTION)) {
            int received = in.readableBytes();
            in.skipBytes(received);
            String what = state == State.CLIENT_FLAGS ? "the client flags" : "an option request";
            state = State.FAILED;
            throw new NbdTruncatedMessageException(what, received, streamOffset);
        }
    }
}
