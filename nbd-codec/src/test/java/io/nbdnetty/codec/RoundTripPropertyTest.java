package io.nbdnetty.codec;

import io.nbdnetty.testing.LeakCheckExtension;
import io.netty.buffer.Unpooled;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Arbitrary valid messages of each family survive encode then decode unchanged, however the encoded stream is split.
 * The golden-bytes tests pin the layout to the spec; these check the encoders and decoders agree on everything else
 * (unsigned fields, lengths, unknown codes, UTF-8).
 */
class RoundTripPropertyTest {
    private static final int TRIES = 200;

    @AfterContainer
    static void noLeaks() throws InterruptedException {
        // jqwik does not run JUnit Jupiter extensions, so check for leaks here.
        LeakCheckExtension.assertNoLeaks(RoundTripPropertyTest.class.getName());
    }

    // ---- generators ---------------------------------------------------------------------------------------------

    /** Strings of 1-, 2- and 3-byte UTF-8 characters (no lone surrogates: those do not survive UTF-8). */
    private static Arbitrary<String> text() {
        return Arbitraries.strings().withCharRange('a', 'z').withCharRange('\u00e0', '\u00ff')
                .withCharRange('\u4e00', '\u4e10').withChars(':', '-', ' ', '/').ofMaxLength(24);
    }

    private static Arbitrary<byte[]> bytes(int min, int max) {
        return Arbitraries.bytes().array(byte[].class).ofMinSize(min).ofMaxSize(max);
    }

    private static Arbitrary<Integer> u16() {
        return Arbitraries.integers().between(0, 0xffff);
    }

    private static Arbitrary<Long> u32() {
        return Arbitraries.longs().between(0, 0xffffffffL);
    }

    private static Arbitrary<NbdOption> anyOption() {
        return Arbitraries.integers().map(NbdOption::valueOf);
    }

    @Provide
    Arbitrary<List<NbdOptionRequest>> optionRequests() {
        Arbitrary<NbdOptionRequest> bare = Arbitraries.of(NbdBareOption.ABORT, NbdBareOption.LIST,
                NbdBareOption.STARTTLS, NbdBareOption.STRUCTURED_REPLY, NbdBareOption.EXTENDED_HEADERS);
        Arbitrary<NbdOptionRequest> exportName = text().map(NbdExportNameOption::new);
        Arbitrary<NbdOptionRequest> info = Combinators.combine(Arbitraries.of(NbdOption.INFO, NbdOption.GO), text(),
                u16().map(NbdInfoType::valueOf).list().ofMaxSize(5)).as(NbdExportInfoOption::new);
        Arbitrary<NbdOptionRequest> meta = Combinators.combine(
                Arbitraries.of(NbdOption.LIST_META_CONTEXT, NbdOption.SET_META_CONTEXT), text(),
                text().list().ofMaxSize(4)).as(NbdMetaContextOption::new);
        // Options this codec does not know (12 and up, including ones with bit 31 set) are passed on raw.
        Arbitrary<NbdOptionRequest> raw = Combinators.combine(
                Arbitraries.integers().filter(c -> Integer.compareUnsigned(c, 12) >= 0).map(NbdOption::valueOf),
                bytes(0, 32)).as((o, d) -> new NbdRawOption(o, d, false));
        return Arbitraries.oneOf(bare, exportName, info, meta, raw).list().ofMaxSize(8);
    }

    @Provide
    Arbitrary<List<NbdOptionReply>> optionReplies() {
        Arbitrary<NbdInfo> infos = Arbitraries.oneOf(
                Combinators.combine(Arbitraries.longs(), u16()).as(NbdInfo.Export::new),
                text().map(NbdInfo.Name::new),
                text().map(NbdInfo.Description::new),
                Combinators.combine(Arbitraries.integers(), Arbitraries.integers(), Arbitraries.integers())
                        .as(NbdInfo.BlockSize::new),
                Combinators.combine(Arbitraries.integers().between(4, 0xffff).map(NbdInfoType::valueOf),
                        bytes(0, 16)).as(NbdInfo.Unknown::new));
        Arbitrary<NbdOptionReply> ack = anyOption().map(NbdAckReply::new);
        Arbitrary<NbdOptionReply> server = Combinators.combine(anyOption(), text(), text()).as(NbdServerReply::new);
        Arbitrary<NbdOptionReply> info = Combinators.combine(anyOption(), infos).as(NbdInfoReply::new);
        Arbitrary<NbdOptionReply> meta = Combinators.combine(anyOption(), Arbitraries.integers(), text())
                .as(NbdMetaContextReply::new);
        Arbitrary<NbdOptionReply> error = Combinators.combine(anyOption(),
                Arbitraries.integers().between(Integer.MIN_VALUE, -1).map(NbdOptionReplyType::valueOf), text())
                .as(NbdErrorReply::new);
        Arbitrary<NbdOptionReply> unknown = Combinators.combine(anyOption(),
                Arbitraries.integers().between(5, Integer.MAX_VALUE).map(NbdOptionReplyType::valueOf), bytes(0, 16))
                .as(NbdUnknownOptionReply::new);
        return Arbitraries.oneOf(ack, server, info, meta, error, unknown).list().ofMaxSize(8);
    }

    /** A request without its buffer, so that generating and shrinking allocates nothing that must be released. */
    record RequestSpec(int flags, int type, long cookie, long offset, long length, byte[] payload) {
        NbdRequest toRequest() {
            return new NbdRequest(flags, NbdCommandType.valueOf(type), cookie, offset,
                    payload == null ? length : payload.length,
                    payload == null ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(payload.clone()));
        }
    }

    private static Arbitrary<RequestSpec> request(boolean extended) {
        return Combinators.combine(u16(), Arbitraries.integers().between(0, 12), Arbitraries.longs(),
                Arbitraries.longs(), extended ? Arbitraries.longs() : u32(), bytes(0, 1500))
                .as((flags, type, cookie, offset, length, data) -> {
                    // A WRITE carries data in both modes, with or without PAYLOAD_LEN (see NbdRequestDecoder).
                    boolean hasPayload = type == NbdCommandType.WRITE.code()
                            || extended && (flags & NbdCommandFlags.PAYLOAD_LEN) != 0;
                    return new RequestSpec(flags, type, cookie, offset, length, hasPayload ? data : null);
                });
    }

    @Provide
    Arbitrary<List<RequestSpec>> compactRequests() {
        return request(false).list().ofMaxSize(8);
    }

    @Provide
    Arbitrary<List<RequestSpec>> extendedRequests() {
        return request(true).list().ofMaxSize(8);
    }

    /** A reply without its buffer. {@code kind}: 0 simple, 1 none, 2 data, 3 hole, 4 block status, 5 error. */
    record ReplySpec(int kind, int flags, long cookie, long headerOffset, long offset, int number, byte[] data,
            long[] extents, int errorType, String message) {
        NbdReply toReply(boolean extended, long simpleCookie) {
            long ho = extended ? headerOffset : 0;
            return switch (kind) {
                case 0 -> number == 0 ? new NbdSimpleReply(simpleCookie, NbdErrno.OK,
                        Unpooled.wrappedBuffer(data.clone())) : new NbdSimpleReply(simpleCookie,
                        NbdErrno.valueOf(number));
                case 1 -> new NbdNoneChunk(flags, cookie, ho);
                case 2 -> new NbdOffsetDataChunk(flags, cookie, ho, offset,
                        Unpooled.wrappedBuffer(data.length == 0 ? new byte[] {1} : data.clone()));
                case 3 -> new NbdOffsetHoleChunk(flags, cookie, ho, offset, number);
                case 4 -> {
                    long[] e = extents.clone();
                    if (!extended) {
                        for (int i = 0; i < e.length; i++) {
                            e[i] &= 0xffffffffL;
                        }
                    }
                    yield new NbdBlockStatusChunk(flags, cookie, ho, extended, number, e);
                }
                default -> new NbdErrorChunk(flags, NbdReplyType.valueOf(errorType), cookie, ho,
                        NbdErrno.valueOf(number), message, offset);
            };
        }
    }

    private static Arbitrary<ReplySpec> reply(boolean extended) {
        Arbitrary<long[]> extents = Arbitraries.longs().array(long[].class).ofMinSize(1).ofMaxSize(5)
                .map(a -> {
                    long[] pairs = new long[a.length * 2];
                    for (int i = 0; i < a.length; i++) {
                        pairs[2 * i] = a[i];
                        pairs[2 * i + 1] = Long.rotateLeft(a[i], 17) ^ i;
                    }
                    return pairs;
                });
        // Error chunk types: ERROR, ERROR_OFFSET, or an unknown type with bit 15 set.
        Arbitrary<Integer> errorTypes = Arbitraries.oneOf(Arbitraries.of(0x8001, 0x8002),
                Arbitraries.integers().between(0x8003, 0xffff));
        Arbitrary<Integer> kinds = extended ? Arbitraries.integers().between(1, 5) : Arbitraries.integers()
                .between(0, 5);
        return Combinators.combine(kinds, u16(), Arbitraries.longs(), Arbitraries.longs(), Arbitraries.longs(),
                Arbitraries.integers(), bytes(0, 1500), Arbitraries.oneOf(extents, errorTypes.map(t -> new long[] {t})))
                .flatAs((kind, flags, cookie, ho, offset, number, data, ext) -> text().map(msg ->
                        new ReplySpec(kind, flags, cookie, ho, offset, number, data,
                                ext.length >= 2 ? ext : new long[] {1, 0},
                                ext.length == 1 ? (int) ext[0] : 0x8001, msg)));
    }

    @Provide
    Arbitrary<List<ReplySpec>> compactReplies() {
        return reply(false).list().ofMaxSize(8);
    }

    @Provide
    Arbitrary<List<ReplySpec>> extendedReplies() {
        return reply(true).list().ofMaxSize(8);
    }

    // ---- properties ---------------------------------------------------------------------------------------------

    private static int[] cuts(int length, long seed) {
        return Feed.randomCuts(length, seed);
    }

    @Property(tries = TRIES)
    void serverHandshakeRoundTrips(@ForAll("optionReplies") List<NbdOptionReply> replies,
            @ForAll int handshakeFlags, @ForAll long seed) {
        List<Object> expected = new ArrayList<>();
        expected.add(new NbdNewstyleGreeting(handshakeFlags & 0xffff));
        for (NbdOptionReply r : replies) {
            expected.add(r);
            if (r instanceof NbdAckReply && r.option().equals(NbdOption.STARTTLS)) {
                // After the ACK of NBD_OPT_STARTTLS only the TLS handshake may follow in plain text: a stream with
                // more plain replies after it is not a valid one (the decoder refuses it; HandshakeDecoderStateTest).
                break;
            }
        }
        byte[] stream = Wire.encodeHandshake(expected.toArray(new NbdHandshakeMessage[0]));
        assertEquals(expected, Feed.decode(NbdClientHandshakeDecoder::new, stream, cuts(stream.length, seed)));
    }

    @Property(tries = TRIES)
    void clientHandshakeRoundTrips(@ForAll("optionRequests") List<NbdOptionRequest> options,
            @ForAll int clientFlags, @ForAll long seed) {
        List<Object> expected = new ArrayList<>();
        expected.add(new NbdClientFlagsMessage(clientFlags));
        expected.addAll(options);
        byte[] stream = Wire.encodeHandshake(expected.toArray(new NbdHandshakeMessage[0]));
        assertEquals(expected, Feed.decode(NbdServerHandshakeDecoder::new, stream, cuts(stream.length, seed)));
    }

    @Property(tries = TRIES)
    void oldstyleGreetingRoundTrips(@ForAll long size, @ForAll int flags, @ForAll long seed) {
        NbdOldstyleGreeting g = new NbdOldstyleGreeting(size, flags);
        byte[] stream = Wire.encodeHandshake(g);
        assertEquals(List.of(g), Feed.decode(NbdClientHandshakeDecoder::new, stream, cuts(stream.length, seed)));
    }

    private static void assertRequestsRoundTrip(boolean extended, List<RequestSpec> specs, long seed) {
        List<NbdRequest> expected = specs.stream().map(RequestSpec::toRequest).toList();
        try {
            byte[] stream = Wire.encodeRequests(extended, expected);
            List<Object> got = Feed.decode(() -> new NbdRequestDecoder(extended, 1 << 20), stream,
                    cuts(stream.length, seed));
            try {
                assertEquals(expected, got);
            } finally {
                Wire.releaseAll(got);
            }
        } finally {
            Wire.releaseAll(expected);
        }
    }

    @Property(tries = TRIES)
    void compactRequestsRoundTrip(@ForAll("compactRequests") List<RequestSpec> specs, @ForAll long seed) {
        assertRequestsRoundTrip(false, specs, seed);
    }

    @Property(tries = TRIES)
    void extendedRequestsRoundTrip(@ForAll("extendedRequests") List<RequestSpec> specs, @ForAll long seed) {
        assertRequestsRoundTrip(true, specs, seed);
    }

    private static void assertRepliesRoundTrip(boolean extended, List<ReplySpec> specs, long seed) {
        List<NbdReply> expected = new ArrayList<>();
        Map<Long, Long> simpleDataLength = new HashMap<>();
        for (int i = 0; i < specs.size(); i++) {
            // Each simple reply gets its own cookie, so the in-flight table can tell its data length.
            long simpleCookie = 0x5000000000000000L + i;
            NbdReply r = specs.get(i).toReply(extended, simpleCookie);
            if (r instanceof NbdSimpleReply s) {
                simpleDataLength.put(simpleCookie, (long) s.data().readableBytes());
            }
            expected.add(r);
        }
        try {
            byte[] stream = Wire.encodeReplies(extended, expected);
            List<Object> got = Feed.decode(() -> new NbdReplyDecoder(extended,
                    c -> simpleDataLength.getOrDefault(c, -1L), 1 << 20), stream, cuts(stream.length, seed));
            try {
                assertEquals(expected, got);
            } finally {
                Wire.releaseAll(got);
            }
        } finally {
            Wire.releaseAll(expected);
        }
    }

    @Property(tries = TRIES)
    void compactRepliesRoundTrip(@ForAll("compactReplies") List<ReplySpec> specs, @ForAll long seed) {
        assertRepliesRoundTrip(false, specs, seed);
    }

    @Property(tries = TRIES)
    void extendedRepliesRoundTrip(@ForAll("extendedReplies") List<ReplySpec> specs, @ForAll long seed) {
        assertRepliesRoundTrip(true, specs, seed);
    }
}
