package io.nbdnetty.codec;

import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Assertions shared by the golden-bytes tests: decode golden bytes to a message, encode a message to golden bytes. */
final class Golden {
    /** proto.md "Newstyle negotiation": NBDMAGIC, IHAVEOPT, handshake flags FIXED_NEWSTYLE|NO_ZEROES. */
    static final byte[] NEWSTYLE_GREETING = Wire.hex("4e42444d41474943 | 49484156454f5054 | 0003");
    /** proto.md "Newstyle negotiation": C: 32 bits, client flags (C_FIXED_NEWSTYLE|C_NO_ZEROES). */
    static final byte[] CLIENT_FLAGS = Wire.hex("00000003");

    private Golden() {
    }

    /**
     * Feeds {@code prefix + golden} to a fresh decoder, checks the messages equal {@code prefixMessages} followed by
     * {@code expected}, and that nothing more came out. Releases everything.
     */
    static void assertDecodes(Supplier<? extends ChannelHandler> decoder, byte[] prefix, List<?> prefixMessages,
            byte[] golden, Object... expected) {
        List<Object> want = new ArrayList<>(prefixMessages);
        want.addAll(List.of(expected));
        EmbeddedChannel ch = new EmbeddedChannel(decoder.get());
        List<Object> got = new ArrayList<>();
        try {
            got = Feed.feed(ch, Wire.concat(prefix, golden), Feed.whole());
            assertEquals(want, got);
        } finally {
            Wire.releaseAll(got);
            ch.finishAndReleaseAll();
        }
    }

    /** Decodes golden bytes that are a complete stream on their own. */
    static void assertDecodes(Supplier<? extends ChannelHandler> decoder, byte[] golden, Object... expected) {
        assertDecodes(decoder, new byte[0], List.of(), golden, expected);
    }

    /** Option replies come after the newstyle greeting. */
    static void assertClientDecodesOptionReply(byte[] golden, NbdOptionReply expected) {
        assertDecodes(NbdClientHandshakeDecoder::new, NEWSTYLE_GREETING,
                List.of(new NbdNewstyleGreeting(NbdHandshakeFlags.ALL)), golden, expected);
    }

    /** Option requests come after the client flags. */
    static void assertServerDecodesOption(byte[] golden, NbdOptionRequest expected) {
        assertDecodes(NbdServerHandshakeDecoder::new, CLIENT_FLAGS,
                List.of(new NbdClientFlagsMessage(NbdClientFlags.ALL)), golden, expected);
    }

    static void assertEncodes(NbdHandshakeMessage msg, byte[] golden) {
        assertEquals(Wire.hexDump(golden), Wire.hexDump(Wire.encodeHandshake(msg)));
        // And through the channel handler, as the pipeline uses it.
        EmbeddedChannel ch = new EmbeddedChannel(NbdHandshakeEncoder.INSTANCE);
        try {
            ch.writeOutbound(msg);
            assertArrayEquals(golden, readOutbound(ch));
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    /** Encodes through a channel (which releases the message) and compares all outbound bytes to the golden ones. */
    static void assertEncodes(ChannelHandler encoder, Object msg, byte[] golden) {
        EmbeddedChannel ch = new EmbeddedChannel(encoder);
        try {
            ch.writeOutbound(msg);
            assertEquals(Wire.hexDump(golden), Wire.hexDump(readOutbound(ch)));
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    static byte[] readOutbound(EmbeddedChannel ch) {
        List<Object> out = new ArrayList<>();
        for (Object m; (m = ch.readOutbound()) != null; ) {
            out.add(m);
        }
        return Wire.drain(out);
    }
}
