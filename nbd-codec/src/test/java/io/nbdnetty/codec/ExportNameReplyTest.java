package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.nbdnetty.codec.Wire.hex;
import static io.nbdnetty.codec.Wire.zeroes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * proto.md "Newstyle negotiation", the reply to NBD_OPT_EXPORT_NAME (no option-reply header): S: 64 bits, size of
 * the export in bytes (unsigned); S: 16 bits, transmission flags; S: 124 bytes, zeroes (reserved) (unless
 * NBD_FLAG_C_NO_ZEROES was negotiated by the client).
 */
class ExportNameReplyTest {
    // 1 GiB, HAS_FLAGS | READ_ONLY | SEND_FLUSH = 0x0007.
    private static final byte[] SHORT = hex("0000000040000000 | 0007");
    private static final byte[] PADDED = hex("0000000040000000 | 0007", zeroes(124));

    private static List<Object> decode(boolean zeroPadded, byte[] golden) {
        NbdClientHandshakeDecoder decoder = new NbdClientHandshakeDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        List<Object> got = new ArrayList<>();
        try {
            got.addAll(Feed.feed(ch, Golden.NEWSTYLE_GREETING, Feed.whole()));
            decoder.expectExportNameReply(zeroPadded);
            got.addAll(Feed.feed(ch, golden, Feed.whole()));
            assertTrue(decoder.isDone());
            assertEquals(18 + golden.length, decoder.streamOffset());
            return got;
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void withZeroesIs134Bytes() {
        assertEquals(134, PADDED.length);
        assertEquals(List.of(new NbdNewstyleGreeting(3), new NbdExportNameReply(1L << 30, 7, true)),
                decode(true, PADDED));
        Golden.assertEncodes(new NbdExportNameReply(1L << 30, 7, true), PADDED);
    }

    @Test
    void withoutZeroesIs10Bytes() {
        assertEquals(10, SHORT.length);
        assertEquals(List.of(new NbdNewstyleGreeting(3), new NbdExportNameReply(1L << 30, 7, false)),
                decode(false, SHORT));
        Golden.assertEncodes(new NbdExportNameReply(1L << 30, 7, false), SHORT);
    }

    @Test
    void withoutZeroesLeavesWhatFollowsUnread() {
        // NO_ZEROES agreed: the 11th byte is already the transmission phase. It must not be eaten.
        NbdClientHandshakeDecoder decoder = new NbdClientHandshakeDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        try {
            Feed.feed(ch, Golden.NEWSTYLE_GREETING, Feed.whole()).forEach(m -> { });
            decoder.expectExportNameReply(false);
            // the reply, then the first 4 bytes of a simple reply magic
            List<Object> got = Feed.feed(ch, Wire.concat(SHORT, hex("67446698")), Feed.whole());
            assertEquals(List.of(new NbdExportNameReply(1L << 30, 7, false)), got);
            ch.pipeline().remove(decoder);
            ByteBuf rest = ch.readInbound();
            assertEquals("67446698", io.netty.buffer.ByteBufUtil.hexDump(rest));
            rest.release();
            assertNull(ch.readInbound());
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
