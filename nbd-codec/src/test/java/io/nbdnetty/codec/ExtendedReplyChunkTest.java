package io.nbdnetty.codec;

import org.junit.jupiter.api.Test;

import static io.nbdnetty.codec.StructuredReplyChunkTest.assertBothWays;
import static io.nbdnetty.codec.Wire.ascii;
import static io.nbdnetty.codec.Wire.hex;

/**
 * proto-extended-headers.md "Extended reply chunk message": S: 32 bits, 0x6e8a278c, magic
 * (NBD_EXTENDED_REPLY_MAGIC); S: 16 bits, reply flags; S: 16 bits, type; S: 64 bits, cookie; S: 64 bits, offset
 * (MUST match the request); S: 64 bits, length of payload (unsigned); S: length bytes of payload data.
 */
class ExtendedReplyChunkTest {
    private static final long COOKIE = 0x0102030405060708L;
    private static final long REQUEST_OFFSET = 0x100000;

    @Test
    void none() {
        assertBothWays(true, new NbdNoneChunk(NbdReplyFlags.DONE, COOKIE, REQUEST_OFFSET),
                hex("6e8a278c | 0001 | 0000 | 0102030405060708 | 0000000000100000 | 0000000000000000"));
    }

    @Test
    void offsetData() {
        // "The extended reply has an additional field offset which MUST match the offset of the client's request
        // (even in reply types such as NBD_REPLY_TYPE_OFFSET_DATA where the payload itself contains a different
        // offset representing the middle of the buffer)": header offset 1 MiB, data at 1 MiB + 512.
        assertBothWays(true, new NbdOffsetDataChunk(NbdReplyFlags.DONE, COOKIE, REQUEST_OFFSET, 0x100200,
                Wire.buf(hex("deadbeef"))),
                hex("6e8a278c | 0001 | 0001 | 0102030405060708 | 0000000000100000 | 000000000000000c",
                        "| 0000000000100200 | deadbeef"));
    }

    @Test
    void offsetHole() {
        assertBothWays(true, new NbdOffsetHoleChunk(0, COOKIE, REQUEST_OFFSET, 0x100000, 0x200),
                hex("6e8a278c | 0000 | 0002 | 0102030405060708 | 0000000000100000 | 000000000000000c",
                        "| 0000000000100000 | 00000200"));
    }

    // "NBD_REPLY_TYPE_BLOCK_STATUS_EXT (6)": length MUST be 8 + (a positive multiple of 16). 32 bits, metadata
    // context ID; 32 bits, descriptor count (MUST be nonzero); descriptors of 64 bits length and 64 bits status.
    @Test
    void blockStatusExt() {
        // context 1, 2 descriptors: 4 GiB with status 3, then 64 KiB with a 64-bit status. Length 8 + 32 = 40.
        assertBothWays(true, new NbdBlockStatusChunk(NbdReplyFlags.DONE, COOKIE, 0, true, 1,
                new long[] {0x100000000L, 3, 0x10000, 0x8000000000000001L}),
                hex("6e8a278c | 0001 | 0006 | 0102030405060708 | 0000000000000000 | 0000000000000028",
                        "| 00000001 | 00000002 | 0000000100000000 0000000000000003",
                        "| 0000000000010000 8000000000000001"));
    }

    @Test
    void error() {
        assertBothWays(true, new NbdErrorChunk(NbdReplyFlags.DONE, NbdReplyType.ERROR, COOKIE, REQUEST_OFFSET,
                NbdErrno.ENOSPC, "full", 0),
                hex("6e8a278c | 0001 | 8001 | 0102030405060708 | 0000000000100000 | 000000000000000a",
                        "| 0000001c | 0004 |", ascii("full")));
    }

    @Test
    void errorOffset() {
        assertBothWays(true, new NbdErrorChunk(NbdReplyFlags.DONE, NbdReplyType.ERROR_OFFSET, COOKIE, REQUEST_OFFSET,
                NbdErrno.EIO, "", 0x100800),
                hex("6e8a278c | 0001 | 8002 | 0102030405060708 | 0000000000100000 | 000000000000000e",
                        "| 00000005 | 0000 | 0000000000100800"));
    }

    @Test
    void unknownErrorTypeWithBit15() {
        assertBothWays(true, new NbdErrorChunk(NbdReplyFlags.DONE, NbdReplyType.valueOf(0xc000), COOKIE,
                REQUEST_OFFSET, NbdErrno.EOVERFLOW, "", 0),
                hex("6e8a278c | 0001 | c000 | 0102030405060708 | 0000000000100000 | 0000000000000006",
                        "| 0000004b | 0000"));
    }
}
