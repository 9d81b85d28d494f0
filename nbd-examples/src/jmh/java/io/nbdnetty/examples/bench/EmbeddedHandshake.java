package io.nbdnetty.examples.bench;

import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.codec.NbdAckReply;
import io.nbdnetty.codec.NbdConstants;
import io.nbdnetty.codec.NbdErrorReply;
import io.nbdnetty.codec.NbdHandshakeEncoder;
import io.nbdnetty.codec.NbdHandshakeFlags;
import io.nbdnetty.codec.NbdHandshakeMessage;
import io.nbdnetty.codec.NbdInfo;
import io.nbdnetty.codec.NbdInfoReply;
import io.nbdnetty.codec.NbdMetaContextReply;
import io.nbdnetty.codec.NbdNewstyleGreeting;
import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdOptionReplyType;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;

/**
 * The server's side of a handshake, played into a client's {@link EmbeddedChannel} for the benchmarks that drive
 * a connection without a socket: fixed newstyle, structured replies when allowed, {@code base:allocation} (id 1)
 * when allowed, then GO with the export size and flags. Any other option is refused with ERR_UNSUP.
 */
public final class EmbeddedHandshake {
    private EmbeddedHandshake() {
    }

    /**
     * Answers the client's options until GO.
     *
     * @param channel the client's channel (its handle is connecting on it)
     * @param exportSize the size GO reports
     * @param transmissionFlags the flags GO reports
     * @param structured whether NBD_OPT_STRUCTURED_REPLY is acknowledged
     * @param baseAllocation whether NBD_OPT_SET_META_CONTEXT is answered with {@code base:allocation}
     */
    public static void answer(EmbeddedChannel channel, long exportSize, int transmissionFlags, boolean structured,
            boolean baseAllocation) {
        ByteBuf in = Unpooled.buffer();
        try {
            send(channel, new NbdNewstyleGreeting(NbdHandshakeFlags.FIXED_NEWSTYLE | NbdHandshakeFlags.NO_ZEROES));
            drainOutbound(channel, in);
            in.skipBytes(4); // client flags
            while (true) {
                drainOutbound(channel, in);
                if (in.readableBytes() < NbdConstants.OPTION_REQUEST_HEADER_LENGTH) {
                    throw new IllegalStateException("the client sent no option");
                }
                in.skipBytes(8); // IHAVEOPT
                NbdOption opt = NbdOption.valueOf(in.readInt());
                in.skipBytes(in.readInt());
                if (opt.equals(NbdOption.STRUCTURED_REPLY) && structured) {
                    send(channel, new NbdAckReply(opt));
                } else if (opt.equals(NbdOption.SET_META_CONTEXT) && baseAllocation) {
                    send(channel, new NbdMetaContextReply(opt, 1, NbdMetaContext.BASE_ALLOCATION));
                    send(channel, new NbdAckReply(opt));
                } else if (opt.equals(NbdOption.GO)) {
                    send(channel, new NbdInfoReply(opt, new NbdInfo.Export(exportSize, transmissionFlags)));
                    send(channel, new NbdAckReply(opt));
                    return;
                } else {
                    send(channel, new NbdErrorReply(opt, NbdOptionReplyType.ERR_UNSUP, ""));
                }
            }
        } finally {
            in.release();
        }
    }

    private static void send(EmbeddedChannel channel, NbdHandshakeMessage msg) {
        ByteBuf b = channel.alloc().buffer();
        NbdHandshakeEncoder.encode(msg, b);
        channel.writeInbound(b);
        channel.runPendingTasks();
    }

    private static void drainOutbound(EmbeddedChannel channel, ByteBuf into) {
        channel.runPendingTasks();
        for (ByteBuf b; (b = channel.readOutbound()) != null; ) {
            into.writeBytes(b);
            b.release();
        }
    }
}
