package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static io.nbdnetty.codec.Wire.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * proto-extended-headers.md, "NBD_CMD_BLOCK_STATUS (7)": "If extended headers were negotiated, a server MAY optionally
 * advertise, via the transmission flag NBD_FLAG_BLOCK_STATUS_PAYLOAD, that it supports an alternative request form
 * where the client sets NBD_CMD_FLAG_PAYLOAD_LEN [...]. The payload form MUST occupy 8 + n*4 bytes, where n is the
 * number of metacontext ids [...], laid out as: C: 64 bits, effect length; C: n * 32 bits, list of metacontext ids to
 * use". "Command flags": bit 3 NBD_CMD_FLAG_REQ_ONE, bit 5 NBD_CMD_FLAG_PAYLOAD_LEN. "Transmission flags": bit 12
 * NBD_FLAG_BLOCK_STATUS_PAYLOAD.
 */
class BlockStatusPayloadTest {
    private static final long COOKIE = 0x0102030405060708L;

    /**
     * An extended request header (magic 0x21e41c71, flags PAYLOAD_LEN, type 7, cookie, offset 1 MiB, length 16 = the
     * payload length for two ids), then the payload: effect length 64 KiB, context ids 2 and 1 (in that order).
     */
    private static final byte[] FILTERED = hex("21e41c71 | 0020 | 0007 | 0102030405060708 | 0000000000100000"
            + " | 0000000000000010 | 0000000000010000 | 00000002 | 00000001");

    @Test
    void flagBitsAreTheSpecs() {
        assertEquals(1 << 12, NbdTransmissionFlags.BLOCK_STATUS_PAYLOAD);
        assertEquals(1 << 5, NbdCommandFlags.PAYLOAD_LEN);
    }

    @Test
    void filteredRequestDecodesAndItsPayloadReads() {
        ByteBuf payload = Unpooled.wrappedBuffer(hex("0000000000010000 | 00000002 | 00000001"));
        NbdRequest expected = new NbdRequest(NbdCommandFlags.PAYLOAD_LEN, NbdCommandType.BLOCK_STATUS, COOKIE,
                1 << 20, 16, payload);
        try {
            Golden.assertDecodes(() -> new NbdRequestDecoder(true, NbdRequestDecoder.DEFAULT_MAX_PAYLOAD_LENGTH),
                    FILTERED, expected);
            NbdBlockStatusPayload p = NbdBlockStatusPayload.decode(expected.payload());
            assertEquals(64 * 1024, p.effectLength());
            assertArrayEquals(new int[] {2, 1}, p.contextIds());
            assertEquals(16, p.length());
            assertEquals(0, expected.payload().readerIndex(), "decode leaves the buffer as it was");
        } finally {
            expected.release();
        }
    }

    @Test
    void payloadEncodesToTheSpecLayoutBehindTheHeader() {
        NbdBlockStatusPayload p = new NbdBlockStatusPayload(64 * 1024, 2, 1);
        ByteBuf payload = p.encode(ByteBufAllocator.DEFAULT);
        assertEquals(NbdBlockStatusPayload.length(2), payload.readableBytes());
        Golden.assertEncodes(new NbdRequestEncoder(true), new NbdRequest(NbdCommandFlags.PAYLOAD_LEN,
                NbdCommandType.BLOCK_STATUS, COOKIE, 1 << 20, p.length(), payload), FILTERED);
        assertEquals(0, payload.refCnt(), "writing the request released its payload");
    }

    @Test
    void effectLengthIsUnsigned64Bits() {
        ByteBuf b = Unpooled.wrappedBuffer(hex("ffffffffffffffff | fffffffe"));
        NbdBlockStatusPayload p = NbdBlockStatusPayload.decode(b);
        assertEquals(-1L, p.effectLength());
        assertEquals(-2, p.contextIds()[0]);
        assertTrue(p.toString().contains("18446744073709551615"), p.toString());
        assertTrue(p.toString().contains("4294967294"), p.toString());
        assertEquals(p, new NbdBlockStatusPayload(-1L, -2));
    }

    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(ints = {0, 4, 7, 9, 13, 15})
    void lengthsThatAreNotEightPlusFourNAreMalformed(int n) {
        ByteBuf b = Unpooled.wrappedBuffer(new byte[n]);
        NbdMalformedMessageException e = assertThrows(NbdMalformedMessageException.class,
                () -> NbdBlockStatusPayload.decode(b));
        assertTrue(e.getMessage().contains(n + " bytes"), e.getMessage());
    }

    @Test
    void anEffectLengthWithoutIdsReadsAsZeroIds() {
        // Well formed by layout; the server decides that n = 0 is useless (qemu answers EINVAL).
        assertEquals(0, NbdBlockStatusPayload.decode(Unpooled.wrappedBuffer(new byte[8])).contextCount());
    }
}
