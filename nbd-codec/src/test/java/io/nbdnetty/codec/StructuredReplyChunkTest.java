package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

import static io.nbdnetty.codec.Wire.ascii;
import static io.nbdnetty.codec.Wire.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * proto.md "Structured reply chunk message": S: 32 bits, 0x668e33ef, magic (NBD_STRUCTURED_REPLY_MAGIC); S: 16 bits,
 * reply flags; S: 16 bits, type; S: 64 bits, cookie; S: 32 bits, length of payload (unsigned); S: length bytes of
 * payload data. Payloads from "Structured reply types".
 */
class StructuredReplyChunkTest {
    private static final long COOKIE = 0x0102030405060708L;

    static NbdReplyDecoder decoder() {
        return new NbdReplyDecoder(false, c -> -1, NbdReplyDecoder.DEFAULT_MAX_PAYLOAD_LENGTH);
    }

    static void assertBothWays(boolean extended, NbdReplyChunk expected, byte[] golden) {
        try {
            Golden.assertDecodes(() -> new NbdReplyDecoder(extended, c -> -1,
                    NbdReplyDecoder.DEFAULT_MAX_PAYLOAD_LENGTH), golden, expected);
            ReferenceCountUtil.retain(expected);
            Golden.assertEncodes(new NbdReplyEncoder(extended), expected, golden);
        } finally {
            ReferenceCountUtil.release(expected);
        }
        if (expected instanceof NbdOffsetDataChunk d) {
            assertEquals(0, d.refCnt());
        }
    }

    // "NBD_REPLY_TYPE_NONE (0)": length MUST be 0; always with NBD_REPLY_FLAG_DONE.
    @Test
    void none() {
        assertBothWays(false, new NbdNoneChunk(NbdReplyFlags.DONE, COOKIE, 0),
                hex("668e33ef | 0001 | 0000 | 0102030405060708 | 00000000"));
    }

    // "NBD_REPLY_TYPE_OFFSET_DATA (1)": length MUST be at least 9. 64 bits: offset (unsigned); length - 8 bytes: data.
    @Test
    void offsetData() {
        assertBothWays(false, new NbdOffsetDataChunk(0, COOKIE, 0, 1 << 20, Wire.buf(hex("deadbeef"))),
                hex("668e33ef | 0000 | 0001 | 0102030405060708 | 0000000c | 0000000000100000 | deadbeef"));
    }

    @Test
    void offsetDataWithOneByteAndDone() {
        assertBothWays(false, new NbdOffsetDataChunk(NbdReplyFlags.DONE, COOKIE, 0, 0xfffffffffffffffeL,
                Wire.buf(hex("5a"))),
                hex("668e33ef | 0001 | 0001 | 0102030405060708 | 00000009 | fffffffffffffffe | 5a"));
    }

    // "NBD_REPLY_TYPE_OFFSET_HOLE (2)": length MUST be exactly 12. 64 bits: offset; 32 bits: hole size.
    @Test
    void offsetHole() {
        assertBothWays(false, new NbdOffsetHoleChunk(0, COOKIE, 0, 1 << 20, 4096),
                hex("668e33ef | 0000 | 0002 | 0102030405060708 | 0000000c | 0000000000100000 | 00001000"));
    }

    @Test
    void offsetHoleSizeIsUnsigned() {
        assertBothWays(false, new NbdOffsetHoleChunk(1, COOKIE, 0, 0, 0xfffff000),
                hex("668e33ef | 0001 | 0002 | 0102030405060708 | 0000000c | 0000000000000000 | fffff000"));
    }

    // "NBD_REPLY_TYPE_BLOCK_STATUS (5)": length MUST be 4 + (a positive integer multiple of 8).
    // 32 bits, metadata context ID; descriptors of 32 bits length and 32 bits status flags.
    @Test
    void blockStatus() {
        // context 1; 64 KiB data, then 64 KiB hole+zero (base:allocation NBD_STATE_HOLE | NBD_STATE_ZERO = 3).
        assertBothWays(false, new NbdBlockStatusChunk(NbdReplyFlags.DONE, COOKIE, 0, false, 1,
                new long[] {0x10000, 0, 0x10000, NbdStateFlags.HOLE | NbdStateFlags.ZERO}),
                hex("668e33ef | 0001 | 0005 | 0102030405060708 | 00000014 | 00000001",
                        "| 00010000 00000000 | 00010000 00000003"));
    }

    @Test
    void blockStatusFieldsAreUnsigned32Bits() {
        assertBothWays(false, new NbdBlockStatusChunk(0, COOKIE, 0, false, 0xffffffff,
                new long[] {0xfffffe00L, 0xffffffffL}),
                hex("668e33ef | 0000 | 0005 | 0102030405060708 | 0000000c | ffffffff | fffffe00 ffffffff"));
    }

    // "NBD_REPLY_TYPE_ERROR (2^15 + 1)": length MUST be at least 6. 32 bits: error (MUST be nonzero);
    // 16 bits: message length (no more than header length - 6); message length bytes: optional string.
    @Test
    void error() {
        assertBothWays(false, new NbdErrorChunk(NbdReplyFlags.DONE, NbdReplyType.ERROR, COOKIE, 0, NbdErrno.EIO,
                "nope", 0),
                hex("668e33ef | 0001 | 8001 | 0102030405060708 | 0000000a | 00000005 | 0004 |", ascii("nope")));
    }

    @Test
    void errorWithoutMessage() {
        assertBothWays(false, new NbdErrorChunk(NbdReplyFlags.DONE, NbdReplyType.ERROR, COOKIE, 0, NbdErrno.EPERM,
                "", 0), hex("668e33ef | 0001 | 8001 | 0102030405060708 | 00000006 | 00000001 | 0000"));
    }

    // "NBD_REPLY_TYPE_ERROR_OFFSET (2^15 + 2)": length MUST be at least 14. 32 bits: error; 16 bits: message
    // length (no more than header length - 14); message; 64 bits: offset (unsigned).
    @Test
    void errorOffset() {
        assertBothWays(false, new NbdErrorChunk(0, NbdReplyType.ERROR_OFFSET, COOKIE, 0, NbdErrno.EIO, "nope",
                0x100200),
                hex("668e33ef | 0000 | 8002 | 0102030405060708 | 00000012 | 00000005 | 0004 |", ascii("nope"),
                        "| 0000000000100200"));
    }

    // "If the client receives an unknown or unexpected type with bit 15 set, it MUST consider the current reply as
    // errored, but MAY continue transmission unless it detects that message length is too large to fit within the
    // length specified by the header." "All error chunk types have bit 15 set, and begin with the same error,
    // message length, and optional message fields as NBD_REPLY_TYPE_ERROR. [...] The header length then covers any
    // remaining structured fields at the end."
    @Test
    void unknownErrorTypeWithBit15() {
        NbdErrorChunk expected = new NbdErrorChunk(NbdReplyFlags.DONE, NbdReplyType.valueOf(0x8003), COOKIE, 0,
                NbdErrno.EINVAL, "x", 0);
        assertTrue(expected.type().isError());
        assertBothWays(false, expected,
                hex("668e33ef | 0001 | 8003 | 0102030405060708 | 00000007 | 00000016 | 0001 | 78"));
    }

    @Test
    void unknownErrorTypeWithTrailingFieldsDecodesAndSkipsThem() {
        // Two bytes of fields this codec does not know follow the message; the next chunk is still found.
        byte[] golden = hex("668e33ef | 0000 | 8003 | 0102030405060708 | 00000008 | 00000016 | 0000 | abcd",
                "668e33ef | 0001 | 0000 | 0102030405060708 | 00000000");
        NbdErrorChunk error = new NbdErrorChunk(0, NbdReplyType.valueOf(0x8003), COOKIE, 0, NbdErrno.EINVAL, "", 0);
        EmbeddedChannel ch = new EmbeddedChannel(decoder());
        try {
            ch.writeInbound(Wire.pooled(golden));
            NbdErrorChunk got = ch.readInbound();
            assertEquals(error, got);
            assertEquals(8, got.payloadLength(), "the chunk reports the length it had on the wire");
            assertEquals(new NbdNoneChunk(1, COOKIE, 0), ch.readInbound());
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void unknownReplyFlagsAreKept() {
        // "Clients MUST ignore unrecognized flags": the codec passes them on.
        assertBothWays(false, new NbdNoneChunk(0x8001, COOKIE, 0),
                hex("668e33ef | 8001 | 0000 | 0102030405060708 | 00000000"));
    }

    @Test
    void offsetDataIsARetainedSliceOfWhatWasReceived() {
        EmbeddedChannel ch = new EmbeddedChannel(decoder());
        try {
            ByteBuf in = Wire.pooled(hex("668e33ef 0001 0001 0102030405060708 0000000c 0000000000100000 deadbeef"));
            ch.writeInbound(in);
            NbdOffsetDataChunk d = ch.readInbound();
            assertEquals("deadbeef", ByteBufUtil.hexDump(d.data()));
            assertEquals(1, in.refCnt());
            d.release();
            assertEquals(0, in.refCnt());
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
