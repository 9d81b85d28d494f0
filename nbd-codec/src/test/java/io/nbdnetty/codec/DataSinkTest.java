package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.nbdnetty.codec.Wire.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * {@link NbdReplyDecoder.DataSink}: successful simple replies and OFFSET_DATA chunks go to the sink, in stream order
 * with the messages, everything else stays a message, and the checks are the same.
 */
class DataSinkTest {
    private static final long READ_COOKIE = 0x0102030405060708L;
    private static final long FLUSH_COOKIE = 0x1112131415161718L;

    /** What the sink and the pipeline saw, in order. */
    private final List<String> seen = new ArrayList<>();

    private final NbdReplyDecoder.DataSink sink = new NbdReplyDecoder.DataSink() {
        @Override
        public void simpleReply(long cookie, ByteBuf data) {
            seen.add("simple " + Long.toHexString(cookie) + " " + ByteBufUtil.hexDump(data));
            data.release();
        }

        @Override
        public void offsetData(int flags, long cookie, long headerOffset, long offset, ByteBuf data) {
            seen.add("data " + flags + " " + Long.toHexString(cookie) + " " + offset + " " + ByteBufUtil.hexDump(data));
            data.release();
        }
    };

    private EmbeddedChannel channel(boolean extended) {
        NbdReplyDecoder decoder = new NbdReplyDecoder(extended, c -> c == READ_COOKIE ? 4 : c == FLUSH_COOKIE ? 0 : -1,
                NbdReplyDecoder.DEFAULT_MAX_PAYLOAD_LENGTH, sink);
        return new EmbeddedChannel(decoder);
    }

    /** Moves the messages that reached the end of the pipeline into {@link #seen}. */
    private void drain(EmbeddedChannel ch) {
        for (Object m; (m = ch.readInbound()) != null; ) {
            seen.add("message " + m);
            io.netty.util.ReferenceCountUtil.release(m);
        }
    }

    @Test
    void simpleRepliesWithAndWithoutDataGoToTheSinkErrorsStayMessages() {
        EmbeddedChannel ch = channel(false);
        ch.writeInbound(Wire.buf(hex("67446698 | 00000000 | 0102030405060708 | cafef00d"
                + "| 67446698 | 00000000 | 1112131415161718"
                + "| 67446698 | 00000005 | 0102030405060708")));
        drain(ch);
        assertEquals(3, seen.size(), seen.toString());
        assertEquals("simple 102030405060708 cafef00d", seen.get(0));
        assertEquals("simple 1112131415161718 ", seen.get(1));
        assertEquals(true, seen.get(2).startsWith("message "), seen.get(2));
        ch.finishAndReleaseAll();
    }

    @Test
    void offsetDataGoesToTheSinkInOrderWithTheOtherChunks() {
        EmbeddedChannel ch = channel(false);
        // OFFSET_DATA (no DONE) of 4 bytes at 0x10, then NONE with DONE.
        ch.writeInbound(Wire.buf(hex("668e33ef | 0000 | 0001 | 0102030405060708 | 0000000c | 0000000000000010"
                + "| cafef00d | 668e33ef | 0001 | 0000 | 0102030405060708 | 00000000")));
        List<String> sinkFirst = new ArrayList<>(seen);
        drain(ch);
        assertEquals(List.of("data 0 102030405060708 16 cafef00d"), sinkFirst);
        assertEquals(2, seen.size(), seen.toString());
        assertInstanceOf(String.class, seen.get(1));
        assertEquals(true, seen.get(1).startsWith("message "), seen.get(1));
        assertEquals(0, ch.inboundMessages().size());
        ch.finishAndReleaseAll();
    }

    @Test
    void aShortOffsetDataChunkIsStillRefused() {
        EmbeddedChannel ch = channel(false);
        assertThrows(NbdMalformedMessageException.class, () -> ch.writeInbound(Wire.buf(hex(
                "668e33ef | 0001 | 0001 | 0102030405060708 | 00000008 | 0000000000000010"))));
        assertEquals(List.of(), seen);
        assertNull(ch.readInbound());
        ch.finishAndReleaseAll();
    }

    /** A sink that also takes NONE chunks. */
    private EmbeddedChannel channelTakingNone(boolean extended) {
        NbdReplyDecoder.DataSink taking = new NbdReplyDecoder.DataSink() {
            @Override
            public void simpleReply(long cookie, ByteBuf data) {
                sink.simpleReply(cookie, data);
            }

            @Override
            public void offsetData(int flags, long cookie, long headerOffset, long offset, ByteBuf data) {
                sink.offsetData(flags, cookie, headerOffset, offset, data);
            }

            @Override
            public boolean noneChunk(int flags, long cookie, long headerOffset) {
                seen.add("none " + flags + " " + Long.toHexString(cookie) + " " + headerOffset);
                return true;
            }
        };
        return new EmbeddedChannel(new NbdReplyDecoder(extended, c -> 4, NbdReplyDecoder.DEFAULT_MAX_PAYLOAD_LENGTH,
                taking));
    }

    @Test
    void aSinkMayTakeNoneChunksInOrder() {
        EmbeddedChannel ch = channelTakingNone(false);
        // OFFSET_DATA (no DONE), NONE with DONE, then an error chunk (a message) for another cookie.
        ch.writeInbound(Wire.buf(hex("668e33ef | 0000 | 0001 | 0102030405060708 | 0000000c | 0000000000000010"
                + "| cafef00d | 668e33ef | 0001 | 0000 | 0102030405060708 | 00000000"
                + "| 668e33ef | 0001 | 8001 | 1112131415161718 | 00000006 | 00000005 | 0000")));
        drain(ch);
        assertEquals(3, seen.size(), seen.toString());
        assertEquals("data 0 102030405060708 16 cafef00d", seen.get(0));
        assertEquals("none 1 102030405060708 0", seen.get(1));
        assertEquals(true, seen.get(2).startsWith("message "), seen.get(2));
        ch.finishAndReleaseAll();
    }

    @Test
    void extendedNoneChunksCarryTheirHeaderOffset() {
        EmbeddedChannel ch = channelTakingNone(true);
        ch.writeInbound(Wire.buf(hex(
                "6e8a278c | 0001 | 0000 | 0102030405060708 | 0000000000001000 | 0000000000000000")));
        drain(ch);
        assertEquals(List.of("none 1 102030405060708 4096"), seen);
        ch.finishAndReleaseAll();
    }

    @Test
    void aNoneChunkWithAPayloadIsStillRefused() {
        EmbeddedChannel ch = channelTakingNone(false);
        assertThrows(NbdMalformedMessageException.class, () -> ch.writeInbound(Wire.buf(hex(
                "668e33ef | 0001 | 0000 | 0102030405060708 | 00000004 | 00000000"))));
        assertEquals(List.of(), seen);
        ch.finishAndReleaseAll();
    }
}
