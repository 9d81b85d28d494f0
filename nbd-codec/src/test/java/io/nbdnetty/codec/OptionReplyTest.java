package io.nbdnetty.codec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static io.nbdnetty.codec.Wire.ascii;
import static io.nbdnetty.codec.Wire.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * proto.md "Fixed newstyle negotiation", option reply format: S: 64 bits, 0x3e889045565a9 (magic number for
 * replies); S: 32 bits, the option; S: 32 bits, reply type; S: 32 bits, length of the reply; S: data. Layouts from
 * "Option reply types". Decoded by the client-side decoder after the newstyle greeting; encoded by the handshake
 * encoder.
 */
class OptionReplyTest {

    private static void assertBothWays(NbdOptionReply reply, byte[] golden) {
        Golden.assertClientDecodesOptionReply(golden, reply);
        Golden.assertEncodes(reply, golden);
    }

    // "NBD_REP_ACK (1)": No data.
    @Test
    void ack() {
        assertBothWays(new NbdAckReply(NbdOption.GO), hex("0003e889045565a9 | 00000007 | 00000001 | 00000000"));
    }

    // "NBD_REP_SERVER (2)": 32 bits, length of name; String, name of the export; rest: description.
    @Test
    void serverWithDescription() {
        // "disk" (4) + "a test disk" (11): length 4 + 4 + 11 = 19.
        assertBothWays(new NbdServerReply(NbdOption.LIST, "disk", "a test disk"),
                hex("0003e889045565a9 | 00000003 | 00000002 | 00000013 | 00000004", ascii("disk"),
                        ascii("a test disk")));
    }

    @Test
    void serverWithoutDescription() {
        assertBothWays(new NbdServerReply(NbdOption.LIST, "disk", ""),
                hex("0003e889045565a9 | 00000003 | 00000002 | 00000008 | 00000004", ascii("disk")));
    }

    @Test
    void serverForTheDefaultExport() {
        assertBothWays(new NbdServerReply(NbdOption.LIST, "", ""),
                hex("0003e889045565a9 | 00000003 | 00000002 | 00000004 | 00000000"));
    }

    // "NBD_REP_INFO (3)": 16 bits, information type; length - 2 bytes, information payload.
    // "NBD_INFO_EXPORT (0)": length MUST be 12: 16 bits NBD_INFO_EXPORT; 64 bits size; 16 bits transmission flags.
    @Test
    void infoExport() {
        // 64 MiB; HAS_FLAGS | SEND_FLUSH | SEND_FUA | SEND_WRITE_ZEROES | CAN_MULTI_CONN = 0x014d.
        int flags = NbdTransmissionFlags.HAS_FLAGS | NbdTransmissionFlags.SEND_FLUSH | NbdTransmissionFlags.SEND_FUA
                | NbdTransmissionFlags.SEND_WRITE_ZEROES | NbdTransmissionFlags.CAN_MULTI_CONN;
        assertEquals(0x014d, flags);
        assertBothWays(new NbdInfoReply(NbdOption.GO, new NbdInfo.Export(64L << 20, flags)),
                hex("0003e889045565a9 | 00000007 | 00000003 | 0000000c | 0000 | 0000000004000000 | 014d"));
    }

    // "NBD_INFO_NAME (1)": 16 bits NBD_INFO_NAME; String: name of the export, length - 2 bytes.
    @Test
    void infoName() {
        assertBothWays(new NbdInfoReply(NbdOption.INFO, new NbdInfo.Name("disk")),
                hex("0003e889045565a9 | 00000006 | 00000003 | 00000006 | 0001", ascii("disk")));
    }

    // "NBD_INFO_DESCRIPTION (2)": 16 bits NBD_INFO_DESCRIPTION; String: description, length - 2 bytes.
    @Test
    void infoDescription() {
        assertBothWays(new NbdInfoReply(NbdOption.GO, new NbdInfo.Description("a test disk")),
                hex("0003e889045565a9 | 00000007 | 00000003 | 0000000d | 0002", ascii("a test disk")));
    }

    // "NBD_INFO_BLOCK_SIZE (3)": length MUST be 14: 16 bits NBD_INFO_BLOCK_SIZE; 32 bits minimum block size;
    // 32 bits preferred block size; 32 bits maximum payload size.
    @Test
    void infoBlockSize() {
        assertBothWays(new NbdInfoReply(NbdOption.GO, new NbdInfo.BlockSize(1, 4096, 32 << 20)),
                hex("0003e889045565a9 | 00000007 | 00000003 | 0000000e | 0003 | 00000001 | 00001000 | 02000000"));
    }

    @Test
    void infoOfAnUnknownTypeIsKept() {
        // "The client MUST ignore information replies it does not understand": decoded, not refused.
        assertBothWays(new NbdInfoReply(NbdOption.GO, new NbdInfo.Unknown(NbdInfoType.valueOf(0x00ab), hex("0102"))),
                hex("0003e889045565a9 | 00000007 | 00000003 | 00000004 | 00ab | 0102"));
    }

    // "NBD_REP_META_CONTEXT (4)": 32 bits, NBD metadata context ID; String, name of the metadata context.
    @Test
    void metaContext() {
        // id 1, "base:allocation" (15): length 19.
        assertBothWays(new NbdMetaContextReply(NbdOption.SET_META_CONTEXT, 1, "base:allocation"),
                hex("0003e889045565a9 | 0000000a | 00000004 | 00000013 | 00000001", ascii("base:allocation")));
    }

    @Test
    void metaContextIdIsUnsigned32Bits() {
        assertBothWays(new NbdMetaContextReply(NbdOption.LIST_META_CONTEXT, 0xfffffffe, "base:"),
                hex("0003e889045565a9 | 00000009 | 00000004 | 00000009 | fffffffe", ascii("base:")));
    }

    // "There are a number of error reply types, all of which are denoted by having bit 31 set. All error replies
    // MAY have some data set, in which case that data is an error message string suitable for display."
    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "NBD_REP_ERR_UNSUP, 80000001",
        "NBD_REP_ERR_POLICY, 80000002",
        "NBD_REP_ERR_INVALID, 80000003",
        "NBD_REP_ERR_PLATFORM, 80000004",
        "NBD_REP_ERR_TLS_REQD, 80000005",
        "NBD_REP_ERR_UNKNOWN, 80000006",
        "NBD_REP_ERR_SHUTDOWN, 80000007",
        "NBD_REP_ERR_BLOCK_SIZE_REQD, 80000008",
        "NBD_REP_ERR_TOO_BIG, 80000009",
        "NBD_REP_ERR_EXT_HEADER_REQD, 8000000a",
    })
    void errorWithMessage(String name, String typeHex) {
        NbdOptionReplyType type = NbdOptionReplyType.valueOf((int) Long.parseLong(typeHex, 16));
        assertEquals(name, type.name(), "the constant for " + typeHex + " has the spec's name");
        assertTrue(type.isError());
        assertBothWays(new NbdErrorReply(NbdOption.GO, type, "nope"),
                hex("0003e889045565a9 | 00000007 |", typeHex, "| 00000004 |", ascii("nope")));
    }

    @Test
    void errorWithoutMessage() {
        assertBothWays(new NbdErrorReply(NbdOption.STRUCTURED_REPLY, NbdOptionReplyType.ERR_UNSUP, ""),
                hex("0003e889045565a9 | 00000008 | 80000001 | 00000000"));
    }

    @Test
    void errorOfAnUnknownTypeIsStillAnError() {
        // Bit 31 set marks an error even for a type this codec does not know.
        NbdOptionReplyType type = NbdOptionReplyType.valueOf(0x8000007f);
        assertTrue(type.isError());
        assertBothWays(new NbdErrorReply(NbdOption.INFO, type, "x"),
                hex("0003e889045565a9 | 00000006 | 8000007f | 00000001 | 78"));
    }

    @Test
    void unknownNonErrorReplyIsKeptRaw() {
        assertBothWays(new NbdUnknownOptionReply(NbdOption.GO, NbdOptionReplyType.valueOf(0x0000005), hex("aabbcc")),
                hex("0003e889045565a9 | 00000007 | 00000005 | 00000003 | aabbcc"));
    }

    @Test
    void replyToAnOptionTheCodecDoesNotKnow() {
        // "the option as sent by the client to which this is a reply": any 32-bit value echoes back.
        assertBothWays(new NbdErrorReply(NbdOption.valueOf(0x42), NbdOptionReplyType.ERR_UNSUP, ""),
                hex("0003e889045565a9 | 00000042 | 80000001 | 00000000"));
    }
}
