package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static io.nbdnetty.codec.Wire.ascii;
import static io.nbdnetty.codec.Wire.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What each decoder does with input that is not NBD: the typed exception, the stream offset of the offending message,
 * nothing decoded or buffered afterwards, and no leaked buffer.
 */
class MalformedInputTest {
    private static final byte[] NONE = new byte[0];
    private static final byte[] GREETING = Golden.NEWSTYLE_GREETING;
    private static final byte[] FLAGS = Golden.CLIENT_FLAGS;
    /** A compact READ request: 28 bytes. */
    private static final byte[] READ = hex("25609513 0000 0000 0000000000000001 0000000000000000 00001000");
    /** A simple error reply: 16 bytes. */
    private static final byte[] SIMPLE_EIO = hex("67446698 00000005 0000000000000001");
    /** A structured NONE chunk: 20 bytes. */
    private static final byte[] STRUCTURED_NONE = hex("668e33ef 0001 0000 0000000000000001 00000000");
    /** An extended NONE chunk: 32 bytes. */
    private static final byte[] EXTENDED_NONE = hex("6e8a278c 0001 0000 0000000000000001 0000000000000000",
            "0000000000000000");

    private static Supplier<ChannelHandler> client() {
        return NbdClientHandshakeDecoder::new;
    }

    private static Supplier<ChannelHandler> server() {
        return NbdServerHandshakeDecoder::new;
    }

    private static Supplier<ChannelHandler> requests(boolean extended) {
        return () -> new NbdRequestDecoder(extended, 1 << 20);
    }

    /** Replies; the resolver knows cookie 1 (a 4 KiB READ) and nothing else. */
    private static Supplier<ChannelHandler> replies(boolean extended) {
        return () -> new NbdReplyDecoder(extended, c -> c == 1 ? 4096 : -1, 1 << 20);
    }

    private static Arguments c(String name, Supplier<ChannelHandler> decoder, byte[] good, byte[] bad,
            long offset) {
        return Arguments.of(name, decoder, good, bad, offset);
    }

    /**
     * Feeds {@code good} (which must decode cleanly), then {@code bad}, expects the exception, then feeds more bytes
     * and checks they are discarded and released.
     */
    private static <T extends NbdDecoderException> T assertRejected(Class<T> type, Supplier<ChannelHandler> decoder,
            byte[] good, byte[] bad, long offset) {
        EmbeddedChannel ch = new EmbeddedChannel(decoder.get());
        try {
            List<Object> before = Feed.feed(ch, good, Feed.whole());
            Wire.releaseAll(before);
            ByteBuf badBuf = Wire.pooled(bad);
            Exception e = assertThrows(Exception.class, () -> ch.writeInbound(badBuf));
            T typed = assertInstanceOf(type, e);
            assertEquals(offset, typed.streamOffset(), "stream offset of the offending message");
            assertTrue(typed.getMessage().contains("at stream offset " + offset), typed.getMessage());
            List<Object> after = Feed.feed(ch, NONE, Feed.whole());
            assertEquals(List.of(), after, "nothing is decoded from the bad message");

            // Everything after the failure is discarded, even a well-formed message.
            ByteBuf more = Wire.pooled(good.length > 0 ? good : bad);
            ch.writeInbound(more);
            assertNull(ch.readInbound(), "the decoder discards input after a failure");
            assertEquals(0, more.refCnt(), "discarded input is released, not accumulated");
            assertEquals(0, badBuf.refCnt(), "the bad input is released");
            assertFalse(ch.finish(), "closing a failed decoder raises nothing and yields nothing");
            return typed;
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    static Stream<Arguments> badMagic() {
        return Stream.of(
            c("server greeting without NBDMAGIC", client(), NONE,
                    hex("4e42444d41474945 49484156454f5054 0003"), 0),
            c("server greeting with neither IHAVEOPT nor cliserv_magic", client(), NONE,
                    hex("4e42444d41474943 49484156454f5055 0003"), 8),
            c("option reply with the wrong magic", client(), GREETING,
                    hex("0003e889045565aa 00000007 00000001 00000000"), 18),
            c("option request without IHAVEOPT", server(), FLAGS, hex("49484156454f5055 00000001 00000000"), 4),
            c("compact request with the extended magic", requests(false), READ,
                    hex("21e41c71 0000 0000 0000000000000002 0000000000000000 00001000"), 28),
            c("extended request with the compact magic", requests(true), NONE,
                    hex("25609513 0000 0000 0000000000000002 0000000000000000 00001000 00000000"), 0),
            c("request with the historic magic 0x25609514", requests(false), NONE,
                    hex("25609514 0000 0000 0000000000000002 0000000000000000 00001000"), 0),
            c("extended reply chunk when extended headers were not negotiated", replies(false), SIMPLE_EIO,
                    EXTENDED_NONE, 16),
            c("simple reply when extended headers were negotiated", replies(true), EXTENDED_NONE,
                    SIMPLE_EIO, 32),
            c("structured reply chunk when extended headers were negotiated", replies(true), NONE,
                    STRUCTURED_NONE, 0),
            c("reply with the historic magic 0x96744668", replies(false), STRUCTURED_NONE,
                    hex("96744668 00000000 0000000000000001"), 20));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void badMagic(String name, Supplier<ChannelHandler> decoder, byte[] good, byte[] bad, long offset) {
        NbdBadMagicException e = assertRejected(NbdBadMagicException.class, decoder, good, bad, offset);
        assertTrue(e.magic() != 0);
    }

    // Only the header is sent: the decoder must refuse the length at once instead of waiting for (and buffering)
    // gigabytes that will never come.
    static Stream<Arguments> lengthOverTheLimit() {
        return Stream.of(
            c("option reply of 4 GiB - 1", client(), GREETING, hex("0003e889045565a9 00000003 00000002 ffffffff"), 18),
            c("option request of 4 GiB - 1", server(), FLAGS, hex("49484156454f5054 00000001 ffffffff"), 4),
            c("compact WRITE of 4 GiB - 1", requests(false), READ,
                    hex("25609513 0000 0001 0000000000000002 0000000000000000 ffffffff"), 28),
            c("extended request with PAYLOAD_LEN of 2^64 - 1", requests(true), NONE,
                    hex("21e41c71 0020 0001 0000000000000002 0000000000000000 ffffffffffffffff"), 0),
            c("extended request with PAYLOAD_LEN of 2^63 (negative if signed)", requests(true), NONE,
                    hex("21e41c71 0020 0007 0000000000000002 0000000000000000 8000000000000000"), 0),
            c("structured chunk of 4 GiB - 1", replies(false), SIMPLE_EIO,
                    hex("668e33ef 0000 0001 0000000000000001 ffffffff"), 16),
            c("extended chunk of 2^63 (negative if signed)", replies(true), NONE,
                    hex("6e8a278c 0000 0001 0000000000000001 0000000000000000 8000000000000000"), 0),
            c("extended chunk of 2^32", replies(true), EXTENDED_NONE,
                    hex("6e8a278c 0000 0001 0000000000000001 0000000000000000 0000000100000000"), 32));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void lengthOverTheLimit(String name, Supplier<ChannelHandler> decoder, byte[] good, byte[] bad, long offset) {
        NbdBadLengthException e = assertRejected(NbdBadLengthException.class, decoder, good, bad, offset);
        assertTrue(Long.compareUnsigned(e.length(), 1 << 20) > 0, "reports the length received: " + e.length());
    }

    // The header alone (no payload fed) is enough: 3 descriptors (4 + 3 * 8 = 28 = 0x1c bytes) over a limit of 2.
    @Test
    void blockStatusChunkWithMoreDescriptorsThanTheLimitIsRefusedOnItsHeader() {
        NbdBadLengthException e = assertRejected(NbdBadLengthException.class,
                () -> new NbdReplyDecoder(false, c -> -1, 1 << 20).maxBlockStatusDescriptors(2), STRUCTURED_NONE,
                hex("668e33ef 0001 0005 0000000000000001 0000001c"), 20);
        assertEquals(28, e.length());
        assertTrue(e.getMessage().contains("3 extents exceeds the limit of 2"), e.getMessage());
        // BLOCK_STATUS_EXT: 8 + 3 * 16 = 56 = 0x38 bytes.
        assertRejected(NbdBadLengthException.class,
                () -> new NbdReplyDecoder(true, c -> -1, 1 << 20).maxBlockStatusDescriptors(2), EXTENDED_NONE,
                hex("6e8a278c 0001 0006 0000000000000001 0000000000000000 0000000000000038"), 32);
    }

    @Test
    void blockStatusChunkAtTheDescriptorLimitIsAcceptedWithItsUnsignedFields() {
        // Two descriptors, the limit: lengths and statuses of 2^32 - 1 stay unsigned in the compact form.
        Golden.assertDecodes(() -> new NbdReplyDecoder(false, c -> -1, 1 << 20).maxBlockStatusDescriptors(2),
                NONE, List.of(), hex("668e33ef 0001 0005 0000000000000001 00000014 00000007",
                        "ffffffff 00000003 00000200 ffffffff"),
                new NbdBlockStatusChunk(1, 1, 0, false, 7, new long[] {0xffffffffL, 3, 512, 0xffffffffL}));
    }

    // What a stall timer watches: bytes count as they arrive, before any message is whole.
    @Test
    void bytesReceivedCountsHalfAMessage() {
        NbdReplyDecoder d = new NbdReplyDecoder(false, c -> 4096, 1 << 20);
        EmbeddedChannel ch = new EmbeddedChannel(d);
        try {
            // An OFFSET_DATA chunk (proto.md): 20-byte header, then offset and 4 bytes of data, in three reads.
            assertFalse(ch.writeInbound(Wire.pooled(hex("668e33ef 0001 0001 00000000"))));
            assertEquals(12, d.bytesReceived());
            assertEquals(0, d.streamOffset());
            assertFalse(ch.writeInbound(Wire.pooled(hex("00000001 0000000c 0000000000000000"))));
            assertEquals(28, d.bytesReceived());
            assertTrue(ch.writeInbound(Wire.pooled(hex("01020304"))));
            assertEquals(32, d.bytesReceived());
            assertEquals(32, d.streamOffset());
            Object chunk = ch.readInbound();
            assertInstanceOf(NbdOffsetDataChunk.class, chunk);
            io.netty.util.ReferenceCountUtil.release(chunk);
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void simpleReplyLongerThanTheLimitIsRefusedBeforeItsData() {
        // The resolver says the READ is 2 MiB; the limit is 1 MiB.
        NbdBadLengthException e = assertRejected(NbdBadLengthException.class,
                () -> new NbdReplyDecoder(false, c -> 2 << 20, 1 << 20), NONE,
                hex("67446698 00000000 0000000000000001"), 0);
        assertEquals(2 << 20, e.length());
    }

    @Test
    void lengthExactlyAtTheLimitIsAccepted() {
        // Option reply limit 4: a 4-byte NBD_REP_META_CONTEXT passes, a 5-byte one fails.
        Golden.assertDecodes(() -> new NbdClientHandshakeDecoder(4), GREETING,
                List.of(new NbdNewstyleGreeting(3)), hex("0003e889045565a9 0000000a 00000004 00000004 00000007"),
                new NbdMetaContextReply(NbdOption.SET_META_CONTEXT, 7, ""));
        assertRejected(NbdBadLengthException.class, () -> new NbdClientHandshakeDecoder(4), GREETING,
                hex("0003e889045565a9 0000000a 00000004 00000005 00000007"), 18);
    }

    static Stream<Arguments> malformedPayload() {
        return Stream.of(
            // proto.md "Option reply types"
            c("NBD_REP_ACK with data (\"No data.\")", client(), GREETING,
                    hex("0003e889045565a9 00000007 00000001 00000001 00"), 18),
            c("NBD_REP_SERVER shorter than its name length field", client(), GREETING,
                    hex("0003e889045565a9 00000003 00000002 00000003 000000"), 18),
            c("NBD_REP_SERVER name length larger than reply length - 4", client(), GREETING,
                    hex("0003e889045565a9 00000003 00000002 00000008 00000005", ascii("disk")), 18),
            c("NBD_REP_INFO without its information type", client(), GREETING,
                    hex("0003e889045565a9 00000007 00000003 00000001 00"), 18),
            c("NBD_INFO_EXPORT of length 11 (MUST be 12)", client(), GREETING,
                    hex("0003e889045565a9 00000007 00000003 0000000b 0000 0000000004000000 01"), 18),
            c("NBD_INFO_EXPORT of length 13 (MUST be 12)", client(), GREETING,
                    hex("0003e889045565a9 00000007 00000003 0000000d 0000 0000000004000000 0001 00"), 18),
            c("NBD_INFO_BLOCK_SIZE of length 13 (MUST be 14)", client(), GREETING,
                    hex("0003e889045565a9 00000007 00000003 0000000d 0003 00000001 00001000 020000"), 18),
            c("NBD_REP_META_CONTEXT without a whole context id", client(), GREETING,
                    hex("0003e889045565a9 0000000a 00000004 00000003 000001"), 18),
            c("NBD_INFO_NAME longer than 4096 bytes", client(), GREETING,
                    hex("0003e889045565a9 00000007 00000003 00001003 0001", "61".repeat(4097)), 18),
            // proto.md "Structured reply types"
            c("NBD_REPLY_TYPE_NONE with a payload (length MUST be 0)", replies(false), STRUCTURED_NONE,
                    hex("668e33ef 0001 0000 0000000000000001 00000001 00"), 20),
            c("NBD_REPLY_TYPE_OFFSET_DATA of length 8 (MUST be at least 9)", replies(false), STRUCTURED_NONE,
                    hex("668e33ef 0001 0001 0000000000000001 00000008 0000000000000000"), 20),
            c("NBD_REPLY_TYPE_OFFSET_HOLE of length 11 (MUST be 12)", replies(false), STRUCTURED_NONE,
                    hex("668e33ef 0001 0002 0000000000000001 0000000b 0000000000000000 000010"), 20),
            c("NBD_REPLY_TYPE_OFFSET_HOLE of length 16 (MUST be 12)", replies(false), STRUCTURED_NONE,
                    hex("668e33ef 0001 0002 0000000000000001 00000010 0000000000000000 00001000 00000000"), 20),
            c("NBD_REPLY_TYPE_BLOCK_STATUS without descriptors", replies(false), STRUCTURED_NONE,
                    hex("668e33ef 0001 0005 0000000000000001 00000004 00000001"), 20),
            c("NBD_REPLY_TYPE_BLOCK_STATUS with half a descriptor", replies(false), STRUCTURED_NONE,
                    hex("668e33ef 0001 0005 0000000000000001 00000010 00000001 00001000 00000000 00001000"), 20),
            c("NBD_REPLY_TYPE_BLOCK_STATUS under extended headers", replies(true), EXTENDED_NONE,
                    hex("6e8a278c 0001 0005 0000000000000001 0000000000000000 000000000000000c",
                            "00000001 00001000 00000000"), 32),
            c("NBD_REPLY_TYPE_BLOCK_STATUS_EXT without extended headers", replies(false), STRUCTURED_NONE,
                    hex("668e33ef 0001 0006 0000000000000001 00000018 00000001 00000001",
                            "0000000000001000 0000000000000000"), 20),
            c("NBD_REPLY_TYPE_BLOCK_STATUS_EXT whose count does not match its length", replies(true), NONE,
                    hex("6e8a278c 0001 0006 0000000000000001 0000000000000000 0000000000000018",
                            "00000001 00000002 0000000000001000 0000000000000000"), 0),
            c("NBD_REPLY_TYPE_BLOCK_STATUS_EXT with a count of zero", replies(true), NONE,
                    hex("6e8a278c 0001 0006 0000000000000001 0000000000000000 0000000000000008",
                            "00000001 00000000"), 0),
            c("NBD_REPLY_TYPE_BLOCK_STATUS_EXT with half a descriptor", replies(true), NONE,
                    hex("6e8a278c 0001 0006 0000000000000001 0000000000000000 0000000000000010",
                            "00000001 00000001 0000000000001000"), 0),
            c("NBD_REPLY_TYPE_ERROR of length 5 (MUST be at least 6)", replies(false), STRUCTURED_NONE,
                    hex("668e33ef 0001 8001 0000000000000001 00000005 00000005 00"), 20),
            c("NBD_REPLY_TYPE_ERROR message length beyond the payload", replies(false), STRUCTURED_NONE,
                    hex("668e33ef 0001 8001 0000000000000001 0000000a 00000005 0005", ascii("nope")), 20),
            c("NBD_REPLY_TYPE_ERROR_OFFSET of length 13 (MUST be at least 14)", replies(false), STRUCTURED_NONE,
                    hex("668e33ef 0001 8002 0000000000000001 0000000d 00000005 0000 00000000000000"), 20),
            c("NBD_REPLY_TYPE_ERROR_OFFSET whose message length leaves no room for the offset", replies(false),
                    STRUCTURED_NONE, hex("668e33ef 0001 8002 0000000000000001 00000012 00000005 0006",
                            ascii("nope"), "0000000000000000"), 20),
            c("unknown error type whose message length is too large for the header length", replies(false),
                    STRUCTURED_NONE, hex("668e33ef 0001 8003 0000000000000001 00000007 00000005 0002 78"), 20));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void malformedPayload(String name, Supplier<ChannelHandler> decoder, byte[] good, byte[] bad, long offset) {
        assertRejected(NbdMalformedMessageException.class, decoder, good, bad, offset);
    }

    // "If the client receives an unknown or unexpected type, other than an error chunk, it MUST initiate a hard
    // disconnect."
    @Test
    void unknownNonErrorChunkType() {
        NbdUnknownReplyTypeException e = assertRejected(NbdUnknownReplyTypeException.class, replies(false),
                STRUCTURED_NONE, hex("668e33ef 0001 0003 0000000000000001 00000000"), 20);
        assertEquals(NbdReplyType.valueOf(3), e.type());
    }

    @Test
    void unknownReplyTypeExceptionSerializesWithItsType() throws Exception {
        NbdUnknownReplyTypeException e = new NbdUnknownReplyTypeException(NbdReplyType.valueOf(0x7fff), 1, 20);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(e);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            NbdUnknownReplyTypeException back = (NbdUnknownReplyTypeException) in.readObject();
            assertEquals(0x7fff, back.type().code());
            assertEquals(e.getMessage(), back.getMessage());
        }
    }

    @Test
    void unknownNonErrorChunkTypeUnderExtendedHeaders() {
        NbdUnknownReplyTypeException e = assertRejected(NbdUnknownReplyTypeException.class, replies(true),
                EXTENDED_NONE, hex("6e8a278c 0001 7fff 0000000000000001 0000000000000000 0000000000000004 00000000"),
                32);
        assertEquals(0x7fff, e.type().code());
    }

    @Test
    void successfulSimpleReplyForAnUnknownCookie() {
        // The data length of a simple reply is not on the wire: with no request in flight the stream is lost.
        NbdUnknownCookieException e = assertRejected(NbdUnknownCookieException.class, replies(false), SIMPLE_EIO,
                hex("67446698 00000000 00000000deadbeef"), 16);
        assertEquals(0xdeadbeefL, e.cookie());
    }

    // The channel closes in the middle of a message.
    static Stream<Arguments> truncated() {
        return Stream.of(
            c("server greeting", client(), NONE, hex("4e42444d41474943 4948"), 0),
            c("oldstyle greeting", client(), NONE, hex("4e42444d41474943 0000420281861253 0000000000100000"), 0),
            c("option reply header", client(), GREETING, hex("0003e889045565a9 00000007"), 18),
            c("option reply data", client(), GREETING, hex("0003e889045565a9 00000003 00000002 00000008 000000"),
                    18),
            c("client flags", server(), NONE, hex("0000"), 0),
            c("option request data", server(), FLAGS, hex("49484156454f5054 00000001 00000004 6469"), 4),
            c("request header", requests(false), READ, hex("25609513 0000"), 28),
            c("WRITE payload", requests(false), READ,
                    hex("25609513 0000 0001 0000000000000002 0000000000000000 00000004 dead"), 28),
            c("extended request header", requests(true), NONE, hex("21e41c71 0000 0000 00000000"), 0),
            c("reply magic", replies(false), SIMPLE_EIO, hex("6744"), 16),
            c("simple reply header", replies(false), NONE, hex("67446698 00000000 00000000"), 0),
            c("READ data of a simple reply, none of it received", replies(false), SIMPLE_EIO,
                    hex("67446698 00000000 0000000000000001"), 16),
            c("READ data of a simple reply", replies(false), NONE,
                    hex("67446698 00000000 0000000000000001 0102030405"), 0),
            c("structured chunk header", replies(false), STRUCTURED_NONE,
                    hex("668e33ef 0001 0001 0000000000000001"), 20),
            c("structured chunk payload", replies(false), STRUCTURED_NONE,
                    hex("668e33ef 0001 0001 0000000000000001 0000000c 0000000000000000"), 20),
            c("extended chunk payload", replies(true), EXTENDED_NONE,
                    hex("6e8a278c 0001 0002 0000000000000001 0000000000000000 000000000000000c 00000000"), 32));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void truncated(String name, Supplier<ChannelHandler> decoder, byte[] good, byte[] partial, long offset) {
        EmbeddedChannel ch = new EmbeddedChannel(decoder.get());
        try {
            Wire.releaseAll(Feed.feed(ch, good, Feed.whole()));
            ByteBuf in = Wire.pooled(partial);
            ch.writeInbound(in);
            assertNull(ch.readInbound(), "half a message decodes to nothing");
            NbdTruncatedMessageException e = assertThrows(NbdTruncatedMessageException.class, ch::finish);
            assertEquals(offset, e.streamOffset());
            assertEquals(0, in.refCnt(), "the partial message is released");
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void closingBetweenMessagesIsNotTruncation() {
        EmbeddedChannel requests = new EmbeddedChannel(requests(false).get());
        Wire.releaseAll(Feed.feed(requests, READ, Feed.whole()));
        assertFalse(requests.finish(), "a complete request then a close raises nothing");
        EmbeddedChannel replies = new EmbeddedChannel(replies(false).get());
        Wire.releaseAll(Feed.feed(replies, Wire.concat(SIMPLE_EIO, STRUCTURED_NONE), Feed.whole()));
        assertFalse(replies.finish(), "complete replies then a close raise nothing");
        EmbeddedChannel client = new EmbeddedChannel(client().get());
        Wire.releaseAll(Feed.feed(client, GREETING, Feed.whole()));
        assertFalse(client.finish(), "a greeting then a close raises nothing");
        EmbeddedChannel server = new EmbeddedChannel(server().get());
        Wire.releaseAll(Feed.feed(server, FLAGS, Feed.whole()));
        assertFalse(server.finish(), "client flags then a close raise nothing");
    }
}
