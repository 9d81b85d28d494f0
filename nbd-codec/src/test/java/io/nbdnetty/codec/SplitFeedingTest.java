package io.nbdnetty.codec;

import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static io.nbdnetty.codec.Wire.ascii;
import static io.nbdnetty.codec.Wire.hex;
import static io.nbdnetty.codec.Wire.zeroes;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every decoder, fed the same stream whole, one byte at a time and cut at random points (fixed seeds), gives the same
 * messages: where TCP splits the stream must not matter.
 */
class SplitFeedingTest {
    private static final long C1 = 1;
    private static final long C2 = 0x0102030405060708L;

    /** Decodes the stream with every split and checks each result against the expected messages. */
    private static void assertSplitInvariant(Supplier<? extends ChannelHandler> decoder, byte[] stream,
            List<?> expected) {
        for (int[] cuts : Feed.allSplits(stream.length)) {
            List<Object> got = Feed.decode(decoder, stream, cuts);
            try {
                assertEquals(expected, got, "split at " + Arrays.toString(cuts));
            } finally {
                Wire.releaseAll(got);
            }
        }
    }

    @Test
    void serverHandshakeStream() {
        byte[] stream = hex(
                "4e42444d41474943 49484156454f5054 0003",
                "0003e889045565a9 00000003 00000002 00000013 00000004", ascii("disk"), ascii("a test disk"),
                "0003e889045565a9 00000003 00000001 00000000",
                "0003e889045565a9 00000007 00000003 0000000c 0000 0000000004000000 014d",
                "0003e889045565a9 00000007 00000003 00000006 0001", ascii("disk"),
                "0003e889045565a9 00000007 00000003 0000000e 0003 00000001 00001000 02000000",
                "0003e889045565a9 0000000a 00000004 00000013 00000001", ascii("base:allocation"),
                "0003e889045565a9 00000007 80000006 00000004", ascii("nope"),
                "0003e889045565a9 00000007 00000001 00000000");
        assertSplitInvariant(NbdClientHandshakeDecoder::new, stream, List.of(
                new NbdNewstyleGreeting(3),
                new NbdServerReply(NbdOption.LIST, "disk", "a test disk"),
                new NbdAckReply(NbdOption.LIST),
                new NbdInfoReply(NbdOption.GO, new NbdInfo.Export(64 << 20, 0x14d)),
                new NbdInfoReply(NbdOption.GO, new NbdInfo.Name("disk")),
                new NbdInfoReply(NbdOption.GO, new NbdInfo.BlockSize(1, 4096, 32 << 20)),
                new NbdMetaContextReply(NbdOption.SET_META_CONTEXT, 1, "base:allocation"),
                new NbdErrorReply(NbdOption.GO, NbdOptionReplyType.ERR_UNKNOWN, "nope"),
                new NbdAckReply(NbdOption.GO)));
    }

    @Test
    void oldstyleGreeting() {
        byte[] stream = hex("4e42444d41474943 0000420281861253 0000000000100000 00000005", zeroes(124));
        assertSplitInvariant(NbdClientHandshakeDecoder::new, stream, List.of(new NbdOldstyleGreeting(1 << 20, 5)));
    }

    @Test
    void exportNameReplyWithZeroes() {
        byte[] reply = hex("0000000040000000 0007", zeroes(124));
        for (int[] cuts : Feed.allSplits(reply.length)) {
            NbdClientHandshakeDecoder decoder = new NbdClientHandshakeDecoder();
            EmbeddedChannel ch = new EmbeddedChannel(decoder);
            try {
                List<Object> got = new ArrayList<>(Feed.feed(ch, Golden.NEWSTYLE_GREETING, Feed.whole()));
                decoder.expectExportNameReply(true);
                got.addAll(Feed.feed(ch, reply, cuts));
                assertEquals(List.of(new NbdNewstyleGreeting(3), new NbdExportNameReply(1L << 30, 7, true)), got,
                        "split at " + Arrays.toString(cuts));
            } finally {
                ch.finishAndReleaseAll();
            }
        }
    }

    @Test
    void clientHandshakeStream() {
        byte[] stream = hex(
                "00000003",
                "49484156454f5054 00000005 00000000",
                "49484156454f5054 00000008 00000000",
                "49484156454f5054 0000000b 00000000",
                "49484156454f5054 00000003 00000000",
                "49484156454f5054 00000009 00000015 00000004", ascii("disk"), "00000001 00000005", ascii("base:"),
                "49484156454f5054 0000000a 0000001f 00000004", ascii("disk"), "00000001 0000000f",
                ascii("base:allocation"),
                "49484156454f5054 00000006 0000000e 00000004", ascii("disk"), "0002 0001 0003",
                "49484156454f5054 00000042 00000003 010203",
                "49484156454f5054 00000007 00000006 00000000 0000",
                "49484156454f5054 00000001 00000004", ascii("disk"),
                "49484156454f5054 00000002 00000000");
        assertSplitInvariant(NbdServerHandshakeDecoder::new, stream, List.of(
                new NbdClientFlagsMessage(3),
                NbdBareOption.STARTTLS,
                NbdBareOption.STRUCTURED_REPLY,
                NbdBareOption.EXTENDED_HEADERS,
                NbdBareOption.LIST,
                new NbdMetaContextOption(NbdOption.LIST_META_CONTEXT, "disk", List.of("base:")),
                new NbdMetaContextOption(NbdOption.SET_META_CONTEXT, "disk", List.of("base:allocation")),
                new NbdExportInfoOption(NbdOption.INFO, "disk", List.of(NbdInfoType.NAME, NbdInfoType.BLOCK_SIZE)),
                new NbdRawOption(NbdOption.valueOf(0x42), hex("010203"), false),
                new NbdExportInfoOption(NbdOption.GO, "", List.of()),
                new NbdExportNameOption("disk"),
                NbdBareOption.ABORT));
    }

    private static byte[] pattern(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + 7);
        }
        return b;
    }

    @Test
    void compactRequestStream() {
        byte[] big = pattern(4096);
        byte[] stream = Wire.concat(
                hex("25609513 0000 0000 0000000000000001 0000000000100000 00001000"),
                hex("25609513 0001 0001 0102030405060708 0000000000000200 00000004 deadbeef"),
                hex("25609513 0000 0001 0000000000000002 0000000000000000 00001000"), big,
                hex("25609513 0000 0003 0000000000000003 0000000000000000 00000000"),
                hex("25609513 0012 0006 0000000000000004 0000000000000000 00100000"),
                hex("25609513 0008 0007 0000000000000005 0000000000000000 ffffffff"),
                hex("25609513 0000 0002 0000000000000006 0000000000000000 00000000"));
        List<NbdRequest> expected = List.of(
                new NbdRequest(0, NbdCommandType.READ, C1, 1 << 20, 4096),
                new NbdRequest(1, NbdCommandType.WRITE, C2, 512, 4, Wire.buf(hex("deadbeef"))),
                new NbdRequest(0, NbdCommandType.WRITE, 2, 0, 4096, Wire.buf(big)),
                new NbdRequest(0, NbdCommandType.FLUSH, 3, 0, 0),
                new NbdRequest(0x12, NbdCommandType.WRITE_ZEROES, 4, 0, 1 << 20),
                new NbdRequest(8, NbdCommandType.BLOCK_STATUS, 5, 0, 0xffffffffL),
                new NbdRequest(0, NbdCommandType.DISC, 6, 0, 0));
        try {
            assertSplitInvariant(() -> new NbdRequestDecoder(false, 1 << 20), stream, expected);
        } finally {
            Wire.releaseAll(expected);
        }
    }

    @Test
    void extendedRequestStream() {
        byte[] big = pattern(4096);
        byte[] stream = Wire.concat(
                hex("21e41c71 0000 0000 0000000000000001 0000000000100000 0000000000001000"),
                hex("21e41c71 0021 0001 0102030405060708 0000000000000200 0000000000000004 deadbeef"),
                hex("21e41c71 0020 0001 0000000000000002 0000000000000000 0000000000001000"), big,
                hex("21e41c71 0020 0007 0000000000000003 0000000000000000 0000000000000010",
                        "0000000100000000 00000001 00000002"),
                hex("21e41c71 0000 0004 0000000000000004 0000000000000000 0000000100000000"));
        List<NbdRequest> expected = List.of(
                new NbdRequest(0, NbdCommandType.READ, C1, 1 << 20, 4096),
                new NbdRequest(0x21, NbdCommandType.WRITE, C2, 512, 4, Wire.buf(hex("deadbeef"))),
                new NbdRequest(0x20, NbdCommandType.WRITE, 2, 0, 4096, Wire.buf(big)),
                new NbdRequest(0x20, NbdCommandType.BLOCK_STATUS, 3, 0, 16,
                        Wire.buf(hex("0000000100000000 00000001 00000002"))),
                new NbdRequest(0, NbdCommandType.TRIM, 4, 0, 1L << 32));
        try {
            assertSplitInvariant(() -> new NbdRequestDecoder(true, 1 << 20), stream, expected);
        } finally {
            Wire.releaseAll(expected);
        }
    }

    @Test
    void compactReplyStream() {
        byte[] big = pattern(4096);
        // Cookie 1: a 4-byte READ; cookie 2: a 4 KiB READ; cookie 3: a FLUSH.
        Map<Long, Long> inFlight = Map.of(1L, 4L, 2L, 4096L, 3L, 0L);
        byte[] stream = Wire.concat(
                hex("67446698 00000000 0000000000000001 cafef00d"),
                hex("67446698 00000000 0000000000000002"), big,
                hex("67446698 00000000 0000000000000003"),
                hex("67446698 00000005 0000000000000001"),
                hex("668e33ef 0000 0001 0102030405060708 0000000c 0000000000100000 deadbeef"),
                hex("668e33ef 0000 0001 0102030405060708 00001008 0000000000000000"), big,
                hex("668e33ef 0000 0002 0102030405060708 0000000c 0000000000100004 00001000"),
                hex("668e33ef 0000 0005 0102030405060708 00000014 00000001 00010000 00000000 00010000 00000003"),
                hex("668e33ef 0000 8001 0102030405060708 0000000a 00000005 0004", ascii("nope")),
                hex("668e33ef 0000 8002 0102030405060708 00000012 00000005 0004", ascii("nope"),
                        "0000000000100200"),
                hex("668e33ef 0001 0000 0102030405060708 00000000"));
        List<NbdReply> expected = List.of(
                new NbdSimpleReply(1, NbdErrno.OK, Wire.buf(hex("cafef00d"))),
                new NbdSimpleReply(2, NbdErrno.OK, Wire.buf(big)),
                new NbdSimpleReply(3, NbdErrno.OK),
                new NbdSimpleReply(1, NbdErrno.EIO),
                new NbdOffsetDataChunk(0, C2, 0, 1 << 20, Wire.buf(hex("deadbeef"))),
                new NbdOffsetDataChunk(0, C2, 0, 0, Wire.buf(big)),
                new NbdOffsetHoleChunk(0, C2, 0, (1 << 20) + 4, 4096),
                new NbdBlockStatusChunk(0, C2, 0, false, 1, new long[] {0x10000, 0, 0x10000, 3}),
                new NbdErrorChunk(0, NbdReplyType.ERROR, C2, 0, NbdErrno.EIO, "nope", 0),
                new NbdErrorChunk(0, NbdReplyType.ERROR_OFFSET, C2, 0, NbdErrno.EIO, "nope", 0x100200),
                new NbdNoneChunk(1, C2, 0));
        try {
            assertSplitInvariant(() -> new NbdReplyDecoder(false, c -> inFlight.getOrDefault(c, -1L), 1 << 20),
                    stream, expected);
        } finally {
            Wire.releaseAll(expected);
        }
    }

    @Test
    void extendedReplyStream() {
        byte[] big = pattern(4096);
        byte[] stream = Wire.concat(
                hex("6e8a278c 0000 0001 0102030405060708 0000000000100000 000000000000000c",
                        "0000000000100000 deadbeef"),
                hex("6e8a278c 0000 0001 0102030405060708 0000000000100000 0000000000001008 0000000000100004"), big,
                hex("6e8a278c 0000 0002 0102030405060708 0000000000100000 000000000000000c",
                        "0000000000101004 00001000"),
                hex("6e8a278c 0000 0006 0102030405060708 0000000000100000 0000000000000028 00000001 00000002",
                        "0000000100000000 0000000000000003 0000000000010000 8000000000000001"),
                hex("6e8a278c 0000 8002 0102030405060708 0000000000100000 000000000000000e 00000005 0000",
                        "0000000000100800"),
                hex("6e8a278c 0001 0000 0102030405060708 0000000000100000 0000000000000000"));
        List<NbdReply> expected = List.of(
                new NbdOffsetDataChunk(0, C2, 1 << 20, 1 << 20, Wire.buf(hex("deadbeef"))),
                new NbdOffsetDataChunk(0, C2, 1 << 20, (1 << 20) + 4, Wire.buf(big)),
                new NbdOffsetHoleChunk(0, C2, 1 << 20, 0x101004, 4096),
                new NbdBlockStatusChunk(0, C2, 1 << 20, true, 1,
                        new long[] {1L << 32, 3, 0x10000, 0x8000000000000001L}),
                new NbdErrorChunk(0, NbdReplyType.ERROR_OFFSET, C2, 1 << 20, NbdErrno.EIO, "", 0x100800),
                new NbdNoneChunk(1, C2, 1 << 20));
        try {
            assertSplitInvariant(() -> new NbdReplyDecoder(true, c -> -1, 1 << 20), stream, expected);
        } finally {
            Wire.releaseAll(expected);
        }
    }
}
