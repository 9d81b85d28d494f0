package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Map;

import static io.nbdnetty.codec.Wire.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * proto.md "Simple reply message": S: 32 bits, 0x67446698, magic (NBD_SIMPLE_REPLY_MAGIC); S: 32 bits, error (MAY
 * be zero); S: 64 bits, cookie (MUST match the request); S: (length bytes of data if the request is of type
 * NBD_CMD_READ and error is zero).
 */
class SimpleReplyMessageTest {
    private static final long READ_COOKIE = 0x0102030405060708L;
    private static final long FLUSH_COOKIE = 0x1112131415161718L;

    /** The requests in flight: a 4-byte READ and a FLUSH. */
    static NbdReplyDecoder decoder() {
        Map<Long, Long> inFlight = Map.of(READ_COOKIE, 4L, FLUSH_COOKIE, 0L);
        return new NbdReplyDecoder(false, c -> inFlight.getOrDefault(c, -1L),
                NbdReplyDecoder.DEFAULT_MAX_PAYLOAD_LENGTH);
    }

    private static void assertBothWays(NbdSimpleReply expected, byte[] golden) {
        boolean hasData = expected.data().isReadable();
        try {
            Golden.assertDecodes(SimpleReplyMessageTest::decoder, golden, expected);
            Golden.assertEncodes(new NbdReplyEncoder(false), expected.retain(), golden);
        } finally {
            expected.release();
        }
        if (hasData) {
            assertEquals(0, expected.refCnt());
        }
    }

    @Test
    void successWithoutData() {
        assertBothWays(new NbdSimpleReply(FLUSH_COOKIE, NbdErrno.OK), hex("67446698 | 00000000 | 1112131415161718"));
    }

    @Test
    void successOfAReadCarriesTheData() {
        assertBothWays(new NbdSimpleReply(READ_COOKIE, NbdErrno.OK, Wire.buf(hex("cafef00d"))),
                hex("67446698 | 00000000 | 0102030405060708 | cafef00d"));
    }

    // "Error values": EPERM 1, EIO 5, ENOMEM 12, EINVAL 22, ENOSPC 28, EOVERFLOW 75, ENOTSUP 95, ESHUTDOWN 108.
    @ParameterizedTest(name = "{0}")
    @CsvSource({"EPERM, 00000001", "EIO, 00000005", "ENOMEM, 0000000c", "EINVAL, 00000016", "ENOSPC, 0000001c",
        "EOVERFLOW, 0000004b", "ENOTSUP, 0000005f", "ESHUTDOWN, 0000006c"})
    void errorOfAReadHasNoData(String name, String errorHex) {
        // "no payload is sent if error was set" (Structured reply chunk message).
        NbdErrno error = NbdErrno.valueOf(Integer.parseInt(errorHex, 16));
        assertEquals(name, error.name());
        assertBothWays(new NbdSimpleReply(READ_COOKIE, error), hex("67446698 |", errorHex, "| 0102030405060708"));
    }

    @Test
    void unknownErrnoIsKept() {
        assertBothWays(new NbdSimpleReply(FLUSH_COOKIE, NbdErrno.valueOf(0x7fff)),
                hex("67446698 | 00007fff | 1112131415161718"));
    }

    @Test
    void errorForAnUnknownCookieNeedsNoLookup() {
        // An error reply has no data, so its length is known without the table of requests in flight.
        assertBothWays(new NbdSimpleReply(0x99, NbdErrno.EIO), hex("67446698 | 00000005 | 0000000000000099"));
    }

    @Test
    void readDataIsARetainedSliceOfWhatWasReceived() {
        EmbeddedChannel ch = new EmbeddedChannel(decoder());
        try {
            ByteBuf in = Wire.pooled(hex("67446698 00000000 0102030405060708 cafef00d"));
            ch.writeInbound(in);
            NbdSimpleReply r = ch.readInbound();
            assertEquals("cafef00d", ByteBufUtil.hexDump(r.data()));
            assertEquals(1, in.refCnt(), "the data holds the received buffer");
            r.release();
            assertEquals(0, in.refCnt());
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void simpleAndStructuredRepliesMixWhenStructuredRepliesWereNegotiated() {
        // "If structured replies have been negotiated, a simple reply MAY be used as a reply to any request other
        // than NBD_CMD_READ": the compact decoder accepts both magics.
        byte[] simple = hex("67446698 | 00000000 | 1112131415161718");
        byte[] none = hex("668e33ef | 0001 | 0000 | 0102030405060708 | 00000000");
        Golden.assertDecodes(SimpleReplyMessageTest::decoder, Wire.concat(simple, none, simple),
                new NbdSimpleReply(FLUSH_COOKIE, NbdErrno.OK), new NbdNoneChunk(1, READ_COOKIE, 0),
                new NbdSimpleReply(FLUSH_COOKIE, NbdErrno.OK));
    }
}
