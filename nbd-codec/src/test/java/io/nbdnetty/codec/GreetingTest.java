package io.nbdnetty.codec;

import org.junit.jupiter.api.Test;

import java.util.List;

import static io.nbdnetty.codec.Wire.hex;
import static io.nbdnetty.codec.Wire.zeroes;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** proto.md "Oldstyle negotiation" and "Newstyle negotiation": the server greeting and the client flags. */
class GreetingTest {

    // proto.md "Newstyle negotiation":
    // S: 64 bits, 0x4e42444d41474943 (ASCII 'NBDMAGIC'); S: 64 bits, 0x49484156454F5054 (ASCII 'IHAVEOPT');
    // S: 16 bits, handshake flags (here NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES = 0x0003)
    private static final byte[] NEWSTYLE = hex("4e42444d41474943 | 49484156454f5054 | 0003");

    // proto.md "Oldstyle negotiation": S: 64 bits NBDMAGIC; S: 64 bits 0x00420281861253 (cliserv_magic);
    // S: 64 bits, size of the export in bytes (here 1 MiB); S: 32 bits, flags (here HAS_FLAGS | SEND_FLUSH = 0x5);
    // S: 124 bytes, zeroes (reserved).
    private static final byte[] OLDSTYLE = hex("4e42444d41474943 | 0000420281861253 | 0000000000100000 | 00000005",
            zeroes(124));

    @Test
    void newstyleGreetingIs18Bytes() {
        assertEquals(18, NEWSTYLE.length);
        assertEquals(NbdConstants.NEWSTYLE_GREETING_LENGTH, NEWSTYLE.length);
    }

    @Test
    void newstyleGreetingDecodes() {
        Golden.assertDecodes(NbdClientHandshakeDecoder::new, NEWSTYLE, new NbdNewstyleGreeting(0x0003));
    }

    @Test
    void newstyleGreetingEncodes() {
        Golden.assertEncodes(new NbdNewstyleGreeting(
                NbdHandshakeFlags.FIXED_NEWSTYLE | NbdHandshakeFlags.NO_ZEROES), NEWSTYLE);
    }

    @Test
    void newstyleGreetingWithoutFlagsDecodes() {
        // Plain (non-fixed) newstyle: handshake flags 0.
        Golden.assertDecodes(NbdClientHandshakeDecoder::new, hex("4e42444d41474943 49484156454f5054 0000"),
                new NbdNewstyleGreeting(0));
    }

    @Test
    void newstyleGreetingKeepsUnknownHandshakeFlags() {
        // "The client SHOULD ignore any handshake flags it does not recognize": the codec passes them on.
        Golden.assertDecodes(NbdClientHandshakeDecoder::new, hex("4e42444d41474943 49484156454f5054 8001"),
                new NbdNewstyleGreeting(0x8001));
    }

    @Test
    void oldstyleGreetingIs152Bytes() {
        assertEquals(152, OLDSTYLE.length);
        assertEquals(NbdConstants.OLDSTYLE_GREETING_LENGTH, OLDSTYLE.length);
    }

    @Test
    void oldstyleGreetingDecodes() {
        Golden.assertDecodes(NbdClientHandshakeDecoder::new, OLDSTYLE, new NbdOldstyleGreeting(1 << 20, 5));
    }

    @Test
    void oldstyleGreetingEncodes() {
        Golden.assertEncodes(new NbdOldstyleGreeting(1 << 20,
                NbdTransmissionFlags.HAS_FLAGS | NbdTransmissionFlags.SEND_FLUSH), OLDSTYLE);
    }

    @Test
    void oldstyleGreetingKeepsAll32FlagBitsAndAnUnsignedSize() {
        // S: 64 bits size (unsigned), S: 32 bits flags: 0xffffffff_fffffe00 and 0x00010003.
        byte[] golden = hex("4e42444d41474943 0000420281861253 fffffffffffffe00 00010003", zeroes(124));
        NbdOldstyleGreeting g = new NbdOldstyleGreeting(0xfffffffffffffe00L, 0x00010003);
        Golden.assertDecodes(NbdClientHandshakeDecoder::new, golden, g);
        Golden.assertEncodes(g, golden);
        assertEquals(0x0003, g.transmissionFlags());
    }

    // proto.md "Newstyle negotiation": C: 32 bits, client flags.
    // "Client flags": bit 0 NBD_FLAG_C_FIXED_NEWSTYLE, bit 1 NBD_FLAG_C_NO_ZEROES.
    @Test
    void clientFlagsDecode() {
        Golden.assertDecodes(NbdServerHandshakeDecoder::new, hex("00000001"), new NbdClientFlagsMessage(1));
        Golden.assertDecodes(NbdServerHandshakeDecoder::new, hex("00000003"),
                new NbdClientFlagsMessage(NbdClientFlags.FIXED_NEWSTYLE | NbdClientFlags.NO_ZEROES));
    }

    @Test
    void clientFlagsEncode() {
        Golden.assertEncodes(new NbdClientFlagsMessage(NbdClientFlags.FIXED_NEWSTYLE), hex("00000001"));
        Golden.assertEncodes(new NbdClientFlagsMessage(NbdClientFlags.ALL), hex("00000003"));
        Golden.assertEncodes(new NbdClientFlagsMessage(0), hex("00000000"));
    }

    @Test
    void clientFlagsKeepUnknownBitsForTheServerToRefuse() {
        // "the server MUST close the TCP connection if it does not recognize the client's flags": the decoder
        // hands all 32 bits on so the server can.
        Golden.assertDecodes(NbdServerHandshakeDecoder::new, hex("80000004"), new NbdClientFlagsMessage(0x80000004));
    }

    @Test
    void greetingThenClientFlagsThenOptionsAreOneConversation() {
        // The newstyle greeting, then an option reply: the decoder moves from greeting to option replies.
        byte[] ack = hex("0003e889045565a9 00000003 00000001 00000000");
        Golden.assertDecodes(NbdClientHandshakeDecoder::new, NEWSTYLE,
                List.of(new NbdNewstyleGreeting(3)), ack, new NbdAckReply(NbdOption.LIST));
    }
}
