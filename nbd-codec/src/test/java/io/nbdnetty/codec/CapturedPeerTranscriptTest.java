package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * Whole conversations recorded between real peers (nbdkit 1.32 and libnbd 1.14's nbdsh; see
 * {@code src/test/resources/golden/captured/capture.sh}): both directions decode completely, with the handshake
 * decoders swapped for the transmission decoders the way a client and a server do it, the decoded values are what
 * the peers said, and our encoders turn the decoded messages back into exactly the recorded bytes.
 */
class CapturedPeerTranscriptTest {

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = CapturedPeerTranscriptTest.class.getResourceAsStream("/golden/captured/" + name)) {
            assertNotNull(in, name);
            return in.readAllBytes();
        }
    }

    /** Collects messages, and when a handshake ends swaps the handshake decoder for the transmission decoder. */
    private static final class Switch extends ChannelInboundHandlerAdapter {
        final List<Object> messages = new ArrayList<>();
        final ChannelHandler handshake;
        final java.util.function.Predicate<Object> isLast;
        final java.util.function.Supplier<ChannelHandler> transmission;

        Switch(ChannelHandler handshake, java.util.function.Predicate<Object> isLast,
                java.util.function.Supplier<ChannelHandler> transmission) {
            this.handshake = handshake;
            this.isLast = isLast;
            this.transmission = transmission;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            messages.add(msg);
            if (ctx.pipeline().get("handshake") != null && isLast.test(msg)) {
                ctx.pipeline().addAfter("handshake", "transmission", transmission.get());
                ctx.pipeline().remove("handshake");
            }
        }
    }

    private static List<Object> decode(byte[] stream, ChannelHandler handshake, java.util.function.Predicate<Object>
            isLast, java.util.function.Supplier<ChannelHandler> transmission) {
        EmbeddedChannel ch = new EmbeddedChannel();
        Switch sw = new Switch(handshake, isLast, transmission);
        if (handshake != null) {
            ch.pipeline().addLast("handshake", handshake);
        } else {
            ch.pipeline().addLast("transmission", transmission.get());
        }
        ch.pipeline().addLast(sw);
        try {
            // Cut in odd places, as a socket might.
            Feed.feed(ch, stream, Feed.randomCuts(stream.length, 7));
            ch.finish();
            return sw.messages;
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    private static boolean isGoAck(Object m) {
        return m instanceof NbdAckReply a && a.option().equals(NbdOption.GO);
    }

    private static boolean isGo(Object m) {
        return m instanceof NbdExportInfoOption o && o.option().equals(NbdOption.GO);
    }

    /** The pattern plugin: each 8-byte big-endian word holds its own offset. */
    private static void assertPattern(ByteBuf data, long offset) {
        for (int i = 0; i < data.readableBytes(); i += 8) {
            assertEquals(offset + i, data.getLong(data.readerIndex() + i), "word at " + (offset + i));
        }
    }

    /** Re-encodes client-to-server messages with our encoders. */
    private static byte[] encodeClientSide(List<Object> messages) {
        List<byte[]> parts = new ArrayList<>();
        for (Object m : messages) {
            if (m instanceof NbdHandshakeMessage h) {
                parts.add(Wire.encodeHandshake(h));
            } else {
                parts.add(Wire.encodeRequests(false, List.of((NbdRequest) m)));
            }
        }
        return Wire.concat(parts.toArray(new byte[0][]));
    }

    /** Re-encodes server-to-client messages with our encoders. */
    private static byte[] encodeServerSide(List<Object> messages) {
        List<byte[]> parts = new ArrayList<>();
        for (Object m : messages) {
            if (m instanceof NbdHandshakeMessage h) {
                parts.add(Wire.encodeHandshake(h));
            } else {
                parts.add(Wire.encodeReplies(false, List.of((NbdReply) m)));
            }
        }
        return Wire.concat(parts.toArray(new byte[0][]));
    }

    private static Map<Long, Long> readLengths(List<Object> clientMessages) {
        Map<Long, Long> lengths = new HashMap<>();
        for (Object m : clientMessages) {
            if (m instanceof NbdRequest r) {
                lengths.put(r.cookie(), r.type().equals(NbdCommandType.READ) ? r.length() : 0);
            }
        }
        return lengths;
    }

    @Test
    void nbdkitWithStructuredRepliesGoReadAndBlockStatus() throws IOException {
        byte[] c2s = resource("structured-read.c2s");
        byte[] s2c = resource("structured-read.s2c");
        List<Object> client = decode(c2s, new NbdServerHandshakeDecoder(), CapturedPeerTranscriptTest::isGo,
                () -> new NbdRequestDecoder(false, 1 << 20));
        List<Object> server = new ArrayList<>();
        try {
            assertEquals(List.of(
                    new NbdClientFlagsMessage(NbdClientFlags.FIXED_NEWSTYLE | NbdClientFlags.NO_ZEROES),
                    NbdBareOption.STRUCTURED_REPLY,
                    new NbdMetaContextOption(NbdOption.SET_META_CONTEXT, "", List.of("base:allocation")),
                    new NbdExportInfoOption(NbdOption.GO, "", List.of(NbdInfoType.BLOCK_SIZE)),
                    new NbdRequest(0, NbdCommandType.READ, 1, 8192, 4096),
                    new NbdRequest(0, NbdCommandType.BLOCK_STATUS, 2, 0, 65536),
                    new NbdRequest(0, NbdCommandType.DISC, 3, 0, 0)), client);
            assertEquals(Wire.hexDump(c2s), Wire.hexDump(encodeClientSide(client)));

            Map<Long, Long> lengths = readLengths(client);
            server.addAll(decode(s2c, new NbdClientHandshakeDecoder(), CapturedPeerTranscriptTest::isGoAck,
                    () -> new NbdReplyDecoder(false, c -> lengths.getOrDefault(c, -1L), 1 << 20)));
            assertEquals(new NbdNewstyleGreeting(NbdHandshakeFlags.ALL), server.get(0));
            assertEquals(new NbdAckReply(NbdOption.STRUCTURED_REPLY), server.get(1));
            assertEquals(new NbdMetaContextReply(NbdOption.SET_META_CONTEXT, 1, "base:allocation"), server.get(2));
            assertEquals(new NbdAckReply(NbdOption.SET_META_CONTEXT), server.get(3));
            NbdInfo.Export export = (NbdInfo.Export) server.stream().filter(m -> m instanceof NbdInfoReply r
                    && r.info() instanceof NbdInfo.Export).map(m -> ((NbdInfoReply) m).info()).findFirst()
                    .orElseThrow();
            assertEquals(1 << 20, export.exportSize());
            assertEquals(NbdTransmissionFlags.HAS_FLAGS | NbdTransmissionFlags.READ_ONLY,
                    export.transmissionFlags() & (NbdTransmissionFlags.HAS_FLAGS | NbdTransmissionFlags.READ_ONLY));
            NbdOffsetDataChunk data = server.stream().filter(m -> m instanceof NbdOffsetDataChunk)
                    .map(NbdOffsetDataChunk.class::cast).findFirst().orElseThrow();
            assertEquals(1, data.cookie());
            assertEquals(8192, data.offset());
            assertEquals(4096, data.data().readableBytes());
            assertPattern(data.data(), 8192);
            NbdBlockStatusChunk status = server.stream().filter(m -> m instanceof NbdBlockStatusChunk)
                    .map(NbdBlockStatusChunk.class::cast).findFirst().orElseThrow();
            assertEquals(2, status.cookie());
            assertEquals(1, status.contextId());
            assertInstanceOf(NbdReplyChunk.class, server.get(server.size() - 1));
            assertEquals(Wire.hexDump(s2c), Wire.hexDump(encodeServerSide(server)));
        } finally {
            Wire.releaseAll(client);
            Wire.releaseAll(server);
        }
    }

    @Test
    void nbdkitWithoutStructuredRepliesSimpleRead() throws IOException {
        byte[] c2s = resource("simple-read.c2s");
        byte[] s2c = resource("simple-read.s2c");
        List<Object> client = decode(c2s, new NbdServerHandshakeDecoder(), CapturedPeerTranscriptTest::isGo,
                () -> new NbdRequestDecoder(false, 1 << 20));
        List<Object> server = new ArrayList<>();
        try {
            assertEquals(new NbdRequest(0, NbdCommandType.READ, 1, 8192, 4096), client.get(client.size() - 2));
            assertEquals(Wire.hexDump(c2s), Wire.hexDump(encodeClientSide(client)));
            // libnbd asked for structured replies; nbdkit --no-sr refused.
            assertEquals(NbdBareOption.STRUCTURED_REPLY, client.get(1));

            Map<Long, Long> lengths = readLengths(client);
            server.addAll(decode(s2c, new NbdClientHandshakeDecoder(), CapturedPeerTranscriptTest::isGoAck,
                    () -> new NbdReplyDecoder(false, c -> lengths.getOrDefault(c, -1L), 1 << 20)));
            assertEquals(NbdOptionReplyType.ERR_UNSUP, ((NbdOptionReply) server.get(1)).type());
            NbdSimpleReply read = (NbdSimpleReply) server.get(server.size() - 1);
            assertEquals(1, read.cookie());
            assertEquals(NbdErrno.OK, read.error());
            assertEquals(4096, read.data().readableBytes());
            assertPattern(read.data(), 8192);
            assertEquals(Wire.hexDump(s2c), Wire.hexDump(encodeServerSide(server)));
        } finally {
            Wire.releaseAll(client);
            Wire.releaseAll(server);
        }
    }

    @Test
    void nbdkitOldstyleGreetingThenRead() throws IOException {
        byte[] c2s = resource("oldstyle.c2s");
        byte[] s2c = resource("oldstyle.s2c");
        // Oldstyle: the client sends nothing before its first request.
        List<Object> client = decode(c2s, null, m -> false, () -> new NbdRequestDecoder(false, 1 << 20));
        List<Object> server = new ArrayList<>();
        try {
            assertEquals(List.of(new NbdRequest(0, NbdCommandType.READ, 1, 0, 512),
                    new NbdRequest(0, NbdCommandType.DISC, 2, 0, 0)), client);
            assertEquals(Wire.hexDump(c2s), Wire.hexDump(encodeClientSide(client)));

            Map<Long, Long> lengths = readLengths(client);
            server.addAll(decode(s2c, new NbdClientHandshakeDecoder(), m -> m instanceof NbdOldstyleGreeting,
                    () -> new NbdReplyDecoder(false, c -> lengths.getOrDefault(c, -1L), 1 << 20)));
            NbdOldstyleGreeting greeting = (NbdOldstyleGreeting) server.get(0);
            assertEquals(1 << 20, greeting.exportSize());
            assertEquals(NbdTransmissionFlags.HAS_FLAGS | NbdTransmissionFlags.READ_ONLY,
                    greeting.transmissionFlags() & 3, "flags: " + greeting);
            assertEquals(152 + 16 + 512, s2c.length);
            NbdSimpleReply read = (NbdSimpleReply) server.get(1);
            assertPattern(read.data(), 0);
            assertEquals(Wire.hexDump(s2c), Wire.hexDump(encodeServerSide(server)));
        } finally {
            Wire.releaseAll(client);
            Wire.releaseAll(server);
        }
    }
}
