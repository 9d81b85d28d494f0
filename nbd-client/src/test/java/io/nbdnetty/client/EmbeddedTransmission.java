package io.nbdnetty.client;

import io.nbdnetty.client.internal.ConnectionOwner;
import io.nbdnetty.client.internal.NbdSession;
import io.nbdnetty.client.internal.PipelineNames;
import io.nbdnetty.client.internal.TransmissionHandler;
import io.nbdnetty.codec.NbdClientHandshakeDecoder;
import io.nbdnetty.codec.NbdHandshakeEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;

import java.util.ArrayList;
import java.util.List;

/**
 * A {@link TransmissionHandler} in an {@link EmbeddedChannel}, installed the way the handshake installs it (over the
 * handshake's handlers, with the real reply decoder and request encoder): bytes in, requests out, no socket. It is
 * its own {@link ConnectionOwner}, recording what the handler reports and failing all as the handle does.
 */
final class EmbeddedTransmission implements ConnectionOwner, AutoCloseable {
    /** HAS_FLAGS, SEND_FLUSH, SEND_FUA, SEND_TRIM, SEND_WRITE_ZEROES (proto.md, "Transmission flags"). */
    static final int FLAGS = 1 | 4 | 8 | 32 | 64;
    static final NbdExportInfo INFO = new NbdExportInfo(1 << 20, FLAGS, 1, 4096,
            NbdExportInfo.DEFAULT_MAXIMUM_PAYLOAD, false, "", null);

    final EmbeddedChannel channel = new EmbeddedChannel();
    final TransmissionHandler handler;
    final List<Throwable> failures = new ArrayList<>();
    int markedClosed;

    EmbeddedTransmission(NbdReplyStyle style, NbdClientConfig config, List<NbdMetaContext> contexts) {
        NbdClientHandshakeDecoder decoder = new NbdClientHandshakeDecoder();
        channel.pipeline().addLast(PipelineNames.HANDSHAKE_DECODER, decoder)
                .addLast(PipelineNames.HANDSHAKE_ENCODER, NbdHandshakeEncoder.INSTANCE)
                .addLast(PipelineNames.HANDSHAKE, new ChannelInboundHandlerAdapter());
        handler = new TransmissionHandler(this, new NbdSession(config, INFO, style, contexts), channel,
                NbdExtentList::of);
        handler.install(channel.pipeline(), decoder);
    }

    EmbeddedTransmission(NbdReplyStyle style) {
        this(style, NbdClientConfig.builder().build(), List.of());
    }

    @Override
    public void fail(Throwable cause) {
        failures.add(cause);
        handler.failAll(cause);
        channel.close();
    }

    @Override
    public void markClosed() {
        markedClosed++;
    }

    @Override
    public void close() {
        channel.close();
        releaseOutbound();
        channel.finishAndReleaseAll();
    }

    /** Everything written since the last call, as one hex string (the buffers released). */
    String written() {
        StringBuilder b = new StringBuilder();
        Object o;
        while ((o = channel.readOutbound()) != null) {
            ByteBuf buf = (ByteBuf) o;
            b.append(ByteBufUtil.hexDump(buf));
            buf.release();
        }
        return b.toString();
    }

    void releaseOutbound() {
        written();
    }

    /** The server's bytes, given in hex (spaces ignored), arrive in one read. */
    void receive(String hex) {
        channel.writeInbound(Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(hex.replace(" ", ""))));
    }

    static String zeroes(int bytes) {
        return "00".repeat(bytes);
    }
}
