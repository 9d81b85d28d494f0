package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.nbdnetty.codec.Wire.ascii;
import static io.nbdnetty.codec.Wire.hex;
import static io.nbdnetty.codec.Wire.zeroes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The handshake decoders' states: where they stop consuming so the transmission decoder gets its bytes, and how they
 * hand on options they cannot parse.
 */
class HandshakeDecoderStateTest {
    /** The first bytes of the transmission phase: a simple reply (server side) or a request (client side). */
    private static final byte[] SIMPLE_REPLY = hex("67446698 00000000 0000000000000001");
    private static final byte[] REQUEST = hex("25609513 0000 0000 0000000000000001 0000000000000000 00001000");

    /** Removes the decoder and returns the bytes it passes to the handler after it, or "" if none. */
    private static String leftoverAfterRemoving(EmbeddedChannel ch, io.netty.channel.ChannelHandler decoder) {
        ch.pipeline().remove(decoder);
        ByteBuf rest = ch.readInbound();
        try {
            assertNull(ch.readInbound());
            return rest == null ? "" : ByteBufUtil.hexDump(rest);
        } finally {
            if (rest != null) {
                rest.release();
                assertEquals(0, rest.refCnt());
            }
        }
    }

    @Test
    void plainTextAfterTheStartTlsAckIsRefusedUntilTlsIsUp() {
        // proto.md "NBD_OPT_STARTTLS": after NBD_REP_ACK "the connection is upgraded to TLS"; plain bytes after the
        // ACK can only have been injected. Greeting, ACK of STARTTLS (option 5), then a plain ACK of option 8.
        byte[] greeting = hex("4e42444d41474943 49484156454f5054 0003");
        byte[] ackStartTls = hex("0003e889045565a9 00000005 00000001 00000000");
        byte[] ackStructured = hex("0003e889045565a9 00000008 00000001 00000000");
        EmbeddedChannel injected = new EmbeddedChannel(new NbdClientHandshakeDecoder());
        try {
            NbdMalformedMessageException e = assertThrows(NbdMalformedMessageException.class,
                    () -> Feed.feed(injected, Wire.concat(greeting, ackStartTls, ackStructured), Feed.whole()));
            assertTrue(e.getMessage().contains("NBD_OPT_STARTTLS"), e.getMessage());
        } finally {
            injected.finishAndReleaseAll();
        }
        NbdClientHandshakeDecoder decoder = new NbdClientHandshakeDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        try {
            assertEquals(List.of(new NbdNewstyleGreeting(3), new NbdAckReply(NbdOption.STARTTLS)),
                    Feed.feed(ch, Wire.concat(greeting, ackStartTls), Feed.whole()));
            decoder.tlsEstablished();
            // The same bytes, now (as if) decrypted by the TLS handler in front: an ordinary reply.
            assertEquals(List.of(new NbdAckReply(NbdOption.STRUCTURED_REPLY)), Feed.feed(ch, ackStructured,
                    Feed.whole()));
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void clientDecoderStopsAfterTheOldstyleGreeting() {
        // Oldstyle: "the server sending a bunch of data to the client", then transmission begins at once.
        byte[] greeting = hex("4e42444d41474943 0000420281861253 0000000000100000 00000001", zeroes(124));
        NbdClientHandshakeDecoder decoder = new NbdClientHandshakeDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        try {
            List<Object> got = Feed.feed(ch, Wire.concat(greeting, SIMPLE_REPLY), Feed.whole());
            assertEquals(List.of(new NbdOldstyleGreeting(1 << 20, 1)), got);
            assertTrue(decoder.isDone());
            assertEquals(152, decoder.streamOffset());
            // More transmission bytes arrive before the owner swaps decoders: still not consumed.
            ch.writeInbound(Wire.pooled(hex("cafe")));
            assertNull(ch.readInbound());
            assertEquals(ByteBufUtil.hexDump(SIMPLE_REPLY) + "cafe", leftoverAfterRemoving(ch, decoder));
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void clientDecoderStopsAfterTheExportNameReply() {
        NbdClientHandshakeDecoder decoder = new NbdClientHandshakeDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        try {
            assertEquals(List.of(new NbdNewstyleGreeting(3)), Feed.feed(ch, Golden.NEWSTYLE_GREETING, Feed.whole()));
            assertFalse(decoder.isDone());
            decoder.expectExportNameReply(true);
            byte[] reply = hex("0000000040000000 0007", zeroes(124));
            List<Object> got = Feed.feed(ch, Wire.concat(reply, SIMPLE_REPLY), Feed.byteByByte(reply.length + 16));
            assertEquals(List.of(new NbdExportNameReply(1L << 30, 7, true)), got);
            assertTrue(decoder.isDone());
            assertEquals(18 + 134, decoder.streamOffset());
            assertEquals(ByteBufUtil.hexDump(SIMPLE_REPLY), leftoverAfterRemoving(ch, decoder));
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void clientDecoderKeepsDecodingOptionRepliesAfterAGoAck() {
        // After NBD_OPT_GO's ACK the owner removes the decoder; until then it is still in option-reply state, so the
        // owner must remove it before transmission bytes arrive. The ACK itself is decoded normally.
        NbdClientHandshakeDecoder decoder = new NbdClientHandshakeDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        try {
            List<Object> got = Feed.feed(ch, Wire.concat(Golden.NEWSTYLE_GREETING,
                    hex("0003e889045565a9 00000007 00000001 00000000")), Feed.whole());
            assertEquals(List.of(new NbdNewstyleGreeting(3), new NbdAckReply(NbdOption.GO)), got);
            assertFalse(decoder.isDone());
            assertEquals("", leftoverAfterRemoving(ch, decoder));
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void expectExportNameReplyBeforeTheGreetingThrows() {
        NbdClientHandshakeDecoder decoder = new NbdClientHandshakeDecoder();
        assertThrows(IllegalStateException.class, () -> decoder.expectExportNameReply(true));
    }

    @Test
    void expectExportNameReplyAfterTheOldstyleGreetingThrows() {
        NbdClientHandshakeDecoder decoder = new NbdClientHandshakeDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        try {
            Wire.releaseAll(Feed.feed(ch, hex("4e42444d41474943 0000420281861253 0000000000100000 00000001",
                    zeroes(124)), Feed.whole()));
            assertThrows(IllegalStateException.class, () -> decoder.expectExportNameReply(false));
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void expectExportNameReplyTwiceThrows() {
        NbdClientHandshakeDecoder decoder = new NbdClientHandshakeDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        try {
            Wire.releaseAll(Feed.feed(ch, Golden.NEWSTYLE_GREETING, Feed.whole()));
            decoder.expectExportNameReply(false);
            assertThrows(IllegalStateException.class, () -> decoder.expectExportNameReply(false));
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void expectExportNameReplyAfterAFailureThrows() {
        NbdClientHandshakeDecoder decoder = new NbdClientHandshakeDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        try {
            assertThrows(NbdBadMagicException.class, () -> ch.writeInbound(Wire.pooled(hex("00".repeat(18)))));
            assertThrows(IllegalStateException.class, () -> decoder.expectExportNameReply(false));
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void serverDecoderLeavesTransmissionBytesAfterFinish() {
        NbdServerHandshakeDecoder decoder = new NbdServerHandshakeDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        try {
            List<Object> got = Feed.feed(ch, hex("00000001 49484156454f5054 00000001 00000000"), Feed.whole());
            assertEquals(List.of(new NbdClientFlagsMessage(1), new NbdExportNameOption("")), got);
            decoder.finish();
            ch.writeInbound(Wire.pooled(REQUEST));
            assertNull(ch.readInbound(), "after finish() the decoder consumes nothing");
            assertEquals(ByteBufUtil.hexDump(REQUEST), leftoverAfterRemoving(ch, decoder));
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    private static void assertServerDecodes(byte[] option, NbdOptionRequest expected) {
        Golden.assertServerDecodesOption(option, expected);
    }

    @Test
    void goWhoseRequestCountIsTooLargeIsMalformed() {
        // "16 bits, number of information requests; 16 bits x n": count 2 but only one request follows.
        byte[] data = hex("00000004", ascii("disk"), "0002 0003");
        assertServerDecodes(Wire.concat(hex("49484156454f5054 00000007 0000000c"), data),
                new NbdRawOption(NbdOption.GO, data, true));
    }

    @Test
    void goWhoseRequestCountIsTooSmallIsMalformed() {
        byte[] data = hex("00000004", ascii("disk"), "0001 0003 0001");
        assertServerDecodes(Wire.concat(hex("49484156454f5054 00000007 0000000e"), data),
                new NbdRawOption(NbdOption.GO, data, true));
    }

    @Test
    void infoWhoseNameLengthIsBeyondTheDataIsMalformed() {
        // "32 bits, length of name (unsigned); MUST be no larger than the option data length - 6"
        byte[] data = hex("00000005", ascii("disk"), "0000");
        assertServerDecodes(Wire.concat(hex("49484156454f5054 00000006 0000000a"), data),
                new NbdRawOption(NbdOption.INFO, data, true));
    }

    @Test
    void goWithoutTheRequestCountIsMalformed() {
        byte[] data = hex("00000000");
        assertServerDecodes(Wire.concat(hex("49484156454f5054 00000007 00000004"), data),
                new NbdRawOption(NbdOption.GO, data, true));
    }

    @Test
    void listWithDataIsMalformed() {
        // "NBD_OPT_LIST": "the server SHOULD reject a request that includes data with NBD_REP_ERR_INVALID".
        assertServerDecodes(hex("49484156454f5054 00000003 00000001 00"),
                new NbdRawOption(NbdOption.LIST, hex("00"), true));
    }

    @Test
    void setMetaContextWhoseQueryOverrunsTheDataIsMalformed() {
        // "If the option request is syntactically invalid (such as a query length that would require reading beyond
        // the original length given in the option header), the server MUST fail the request with
        // NBD_REP_ERR_INVALID."
        byte[] data = hex("00000000 00000001 00000009", ascii("base:"));
        assertServerDecodes(Wire.concat(hex("49484156454f5054 0000000a 00000011"), data),
                new NbdRawOption(NbdOption.SET_META_CONTEXT, data, true));
    }

    @Test
    void setMetaContextWithAnImpossibleQueryCountIsMalformed() {
        byte[] data = hex("00000000 ffffffff");
        assertServerDecodes(Wire.concat(hex("49484156454f5054 0000000a 00000008"), data),
                new NbdRawOption(NbdOption.SET_META_CONTEXT, data, true));
    }

    @Test
    void setMetaContextWithTrailingBytesIsMalformed() {
        byte[] data = hex("00000000 00000000 ff");
        assertServerDecodes(Wire.concat(hex("49484156454f5054 0000000a 00000009"), data),
                new NbdRawOption(NbdOption.SET_META_CONTEXT, data, true));
    }

    @Test
    void exportNameLongerThan4096BytesIsMalformed() {
        byte[] data = hex("61".repeat(4097));
        assertServerDecodes(Wire.concat(hex("49484156454f5054 00000001 00001001"), data),
                new NbdRawOption(NbdOption.EXPORT_NAME, data, true));
    }

    @Test
    void unknownOptionIsNotMalformed() {
        assertServerDecodes(hex("49484156454f5054 000000ff 00000002 abcd"),
                new NbdRawOption(NbdOption.valueOf(0xff), hex("abcd"), false));
        assertServerDecodes(hex("49484156454f5054 80000000 00000000"),
                new NbdRawOption(NbdOption.valueOf(0x80000000), new byte[0], false));
    }

    @Test
    void withdrawnPeekExportIsUnknownNotMalformed() {
        // proto.md lists NBD_OPT_PEEK_EXPORT (4) as withdrawn: a server treats it as any option it does not know.
        assertServerDecodes(hex("49484156454f5054 00000004 00000000"),
                new NbdRawOption(NbdOption.PEEK_EXPORT, new byte[0], false));
    }

    @Test
    void aMalformedOptionDoesNotStopTheDecoder() {
        // The server answers NBD_REP_ERR_INVALID and carries on: the next option decodes normally.
        byte[] bad = hex("49484156454f5054 00000007 00000004 00000000");
        byte[] good = hex("49484156454f5054 00000003 00000000");
        Golden.assertDecodes(NbdServerHandshakeDecoder::new, Wire.concat(Golden.CLIENT_FLAGS, bad, good),
                new NbdClientFlagsMessage(3), new NbdRawOption(NbdOption.GO, hex("00000000"), true),
                NbdBareOption.LIST);
    }
}
