package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.EncoderException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static io.nbdnetty.codec.Wire.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * proto-extended-headers.md "Request message".
 *
 * <p>Compact: C: 32 bits, 0x25609513, magic; C: 16 bits, command flags; C: 16 bits, type; C: 64 bits, cookie; C: 64
 * bits, offset (unsigned); C: 32 bits, length (unsigned); C: (length bytes of data if the request is of type
 * NBD_CMD_WRITE).
 *
 * <p>Extended: C: 32 bits, 0x21e41c71, magic; C: 16 bits, command flags; C: 16 bits, type; C: 64 bits, cookie; C: 64
 * bits, offset (unsigned); C: 64 bits, payload/effect length (unsigned); C: (length bytes of data if flags includes
 * NBD_CMD_FLAG_PAYLOAD_LEN).
 */
class RequestMessageTest {
    private static final long COOKIE = 0x0102030405060708L;

    private static NbdRequestDecoder decoder(boolean extended) {
        return new NbdRequestDecoder(extended, NbdRequestDecoder.DEFAULT_MAX_PAYLOAD_LENGTH);
    }

    /** Decodes the golden bytes, compares with a copy of the expected request, encodes the expected request. */
    private static void assertBothWays(boolean extended, NbdRequest expected, byte[] golden) {
        boolean hasPayload = expected.payload().isReadable();
        try {
            Golden.assertDecodes(() -> decoder(extended), golden, expected);
            Golden.assertEncodes(new NbdRequestEncoder(extended), expected.retain(), golden);
        } finally {
            expected.release();
        }
        if (hasPayload) {
            assertEquals(0, expected.refCnt(), "the request's payload was released");
        }
    }

    // "Request types": READ 0, WRITE 1, DISC 2, FLUSH 3, TRIM 4, CACHE 5, WRITE_ZEROES 6, BLOCK_STATUS 7, RESIZE 8.
    // "Command flags": FUA bit 0, NO_HOLE bit 1, DF bit 2, REQ_ONE bit 3, FAST_ZERO bit 4, PAYLOAD_LEN bit 5.
    @ParameterizedTest(name = "compact {0} flags={1}")
    @CsvSource({
        "0, 0000, 0, 00001000",      // NBD_CMD_READ, 4 KiB
        "0, 0004, 0, 00010000",      // NBD_CMD_READ with DF
        "2, 0000, 0, 00000000",      // NBD_CMD_DISC
        "3, 0000, 0, 00000000",      // NBD_CMD_FLUSH
        "4, 0001, 1, 00100000",      // NBD_CMD_TRIM with FUA
        "5, 0000, 0, 00200000",      // NBD_CMD_CACHE
        "6, 0012, 0, 00100000",      // NBD_CMD_WRITE_ZEROES with NO_HOLE | FAST_ZERO
        "7, 0008, 0, ffffffff",      // NBD_CMD_BLOCK_STATUS with REQ_ONE, the largest 32-bit length
        "8, 0000, 0, 00000000",      // NBD_CMD_RESIZE (experimental)
    })
    void compactCommandWithoutPayload(int type, String flagsHex, int fua, String lengthHex) {
        int flags = Integer.parseInt(flagsHex, 16);
        assertEquals(fua, flags & NbdCommandFlags.FUA);
        byte[] golden = hex("25609513 |", flagsHex, "| 000", Integer.toString(type),
                "| 0102030405060708 | 0000000000100000 |", lengthHex);
        assertEquals(28, golden.length);
        assertBothWays(false, new NbdRequest(flags, NbdCommandType.valueOf(type), COOKIE, 1 << 20,
                Long.parseLong(lengthHex, 16)), golden);
    }

    @Test
    void compactWriteCarriesLengthBytesOfData() {
        // NBD_CMD_WRITE with FUA, 4 bytes of data at offset 1 MiB.
        byte[] golden = hex("25609513 | 0001 | 0001 | 0102030405060708 | 0000000000100000 | 00000004 | deadbeef");
        assertBothWays(false, new NbdRequest(NbdCommandFlags.FUA, NbdCommandType.WRITE, COOKIE, 1 << 20, 4,
                Wire.buf(hex("deadbeef"))), golden);
    }

    @Test
    void compactLargeWriteKeepsThePayloadSeparateAndIntact() {
        // Above the copy threshold the encoder passes the payload on as its own buffer.
        byte[] data = new byte[4096];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7);
        }
        byte[] golden = Wire.concat(hex("25609513 | 0000 | 0001 | 0102030405060708 | 0000000000000000 | 00001000"),
                data);
        assertBothWays(false, new NbdRequest(0, NbdCommandType.WRITE, COOKIE, 0, 4096, Wire.buf(data)), golden);
    }

    @Test
    void compactHeaderFieldsAreUnsigned() {
        // offset 0xffffffff_fffff000 and cookie with the top bit set must come back unchanged.
        byte[] golden = hex("25609513 | 0000 | 0000 | ffffffffffffffff | fffffffffffff000 | 80000000");
        assertBothWays(false, new NbdRequest(0, NbdCommandType.READ, -1L, 0xfffffffffffff000L, 0x80000000L),
                golden);
    }

    @Test
    void compactDecoderIgnoresPayloadLenFlagOnANonWrite() {
        // "In the compact style, the client MUST NOT use the NBD_CMD_FLAG_PAYLOAD_LEN flag; and the only command
        // where length represents payload length instead of effect length is NBD_CMD_WRITE."
        byte[] golden = hex("25609513 | 0020 | 0007 | 0102030405060708 | 0000000000000000 | 00001000");
        assertBothWays(false, new NbdRequest(NbdCommandFlags.PAYLOAD_LEN, NbdCommandType.BLOCK_STATUS, COOKIE, 0,
                4096), golden);
    }

    @Test
    void compactEncoderRefusesALengthOver32Bits() {
        NbdRequest r = new NbdRequest(0, NbdCommandType.READ, COOKIE, 0, 1L << 32);
        assertThrows(EncoderException.class, () -> Wire.encodeRequests(false, List.of(r)));
    }

    @ParameterizedTest(name = "extended {0} flags={1}")
    @CsvSource({
        "0, 0000, 0000000000001000",   // NBD_CMD_READ
        "2, 0000, 0000000000000000",   // NBD_CMD_DISC
        "3, 0000, 0000000000000000",   // NBD_CMD_FLUSH
        "4, 0000, 0000000100000000",   // NBD_CMD_TRIM of 4 GiB: "only when length is used as an effect length will
        "5, 0000, 0000000000010000",   //  it utilize a full 64-bit value"; NBD_CMD_CACHE
        "6, 0002, 8000000000000000",   // NBD_CMD_WRITE_ZEROES with NO_HOLE, a 64-bit effect length
        "7, 0000, 0000000100000000",   // NBD_CMD_BLOCK_STATUS over 4 GiB
    })
    void extendedCommandWithoutPayload(int type, String flagsHex, String lengthHex) {
        byte[] golden = hex("21e41c71 |", flagsHex, "| 000", Integer.toString(type),
                "| 0102030405060708 | 0000000000100000 |", lengthHex);
        assertEquals(32, golden.length);
        assertBothWays(true, new NbdRequest(Integer.parseInt(flagsHex, 16), NbdCommandType.valueOf(type), COOKIE,
                1 << 20, Long.parseUnsignedLong(lengthHex, 16)), golden);
    }

    @Test
    void extendedWriteWithPayloadLen() {
        // "The command NBD_CMD_WRITE MUST use the flag NBD_CMD_FLAG_PAYLOAD_LEN in this mode". FUA | PAYLOAD_LEN.
        byte[] golden = hex("21e41c71 | 0021 | 0001 | 0102030405060708 | 0000000000100000 | 0000000000000004",
                "| deadbeef");
        assertBothWays(true, new NbdRequest(NbdCommandFlags.FUA | NbdCommandFlags.PAYLOAD_LEN, NbdCommandType.WRITE,
                COOKIE, 1 << 20, 4, Wire.buf(hex("deadbeef"))), golden);
    }

    @Test
    void extendedWriteWithoutPayloadLenStillCarriesItsData() {
        // The draft says "The command NBD_CMD_WRITE MUST use the flag NBD_CMD_FLAG_PAYLOAD_LEN in this mode", but
        // qemu 10's client leaves the flag off (golden/qemu10-io-nbd-serve.txt: its WRITE has flags 0x0001, FUA
        // only, and length 0x1000, then 4096 bytes), and qemu's server reads the data anyway. The decoder does the
        // same: a WRITE's length is its payload length, flag or no flag.
        byte[] golden = hex("21e41c71 | 0000 | 0001 | 0102030405060708 | 0000000000100000 | 0000000000000004",
                "| cafef00d");
        assertBothWays(true, new NbdRequest(0, NbdCommandType.WRITE, COOKIE, 1 << 20, 4,
                Wire.buf(hex("cafef00d"))), golden);
    }

    @Test
    void extendedWriteWithoutPayloadLenWaitsForItsData() {
        // Header only: the decoder must wait for the 4 data bytes rather than take the next header for a request.
        EmbeddedChannel ch = new EmbeddedChannel(decoder(true));
        try {
            ch.writeInbound(Wire.buf(hex("21e41c71 | 0000 | 0001 | 0102030405060708 | 0000000000000000",
                    "| 0000000000000004")));
            assertNull(ch.readInbound());
            ch.writeInbound(Wire.buf(hex("cafef00d")));
            NbdRequest r = ch.readInbound();
            assertEquals(4, r.payload().readableBytes());
            assertEquals(0xcafef00dL, r.payload().getUnsignedInt(r.payload().readerIndex()));
            r.release();
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void extendedBlockStatusWithPayload() {
        // "NBD_CMD_BLOCK_STATUS": "The payload form MUST occupy 8 + n*4 bytes ... C: 64 bits, effect length;
        // C: n * 32 bits, list of metacontext ids to use". Effect length 4 GiB, ids 1 and 2: payload 16 bytes.
        byte[] payload = hex("0000000100000000 | 00000001 | 00000002");
        byte[] golden = Wire.concat(hex("21e41c71 | 0020 | 0007 | 0102030405060708 | 0000000000000000",
                "| 0000000000000010"), payload);
        assertBothWays(true, new NbdRequest(NbdCommandFlags.PAYLOAD_LEN, NbdCommandType.BLOCK_STATUS, COOKIE, 0, 16,
                Wire.buf(payload)), golden);
    }

    @Test
    void extendedReadWithPayloadLenCarriesThePayload() {
        // "in all other cases, a server SHOULD gracefully consume length bytes of payload (even if it then replies
        // with an NBD_EINVAL failure because the particular command was not expecting a payload)".
        byte[] golden = hex("21e41c71 | 0020 | 0000 | 0102030405060708 | 0000000000000000 | 0000000000000002 | abcd");
        assertBothWays(true, new NbdRequest(NbdCommandFlags.PAYLOAD_LEN, NbdCommandType.READ, COOKIE, 0, 2,
                Wire.buf(hex("abcd"))), golden);
    }

    @Test
    void unknownCommandTypeIsKept() {
        byte[] golden = hex("25609513 | 0000 | 00ff | 0102030405060708 | 0000000000000000 | 00000000");
        assertBothWays(false, new NbdRequest(0, NbdCommandType.valueOf(0xff), COOKIE, 0, 0), golden);
    }

    @Test
    void decodedPayloadIsASliceThatReleasesWithTheRequest() {
        byte[] golden = hex("25609513 | 0000 | 0001 | 0102030405060708 | 0000000000000000 | 00000002 | abcd");
        EmbeddedChannel ch = new EmbeddedChannel(decoder(false));
        try {
            ByteBuf in = Wire.pooled(golden);
            ch.writeInbound(in);
            NbdRequest r = ch.readInbound();
            assertEquals(1, in.refCnt(), "the request's payload holds the received buffer");
            assertEquals("abcd", io.netty.buffer.ByteBufUtil.hexDump(r.payload()));
            r.release();
            assertEquals(0, r.refCnt());
            assertEquals(0, in.refCnt());
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
