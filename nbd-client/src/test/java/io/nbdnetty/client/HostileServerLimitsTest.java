package io.nbdnetty.client;

import io.nbdnetty.client.ScriptedServer.Opt;
import io.nbdnetty.client.ScriptedServer.Peer;
import io.nbdnetty.client.ScriptedServer.Req;
import io.nbdnetty.codec.NbdAckReply;
import io.nbdnetty.codec.NbdBadLengthException;
import io.nbdnetty.codec.NbdBadMagicException;
import io.nbdnetty.codec.NbdBlockStatusChunk;
import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.codec.NbdConstants;
import io.nbdnetty.codec.NbdHandshakeFlags;
import io.nbdnetty.codec.NbdInfo;
import io.nbdnetty.codec.NbdInfoReply;
import io.nbdnetty.codec.NbdMalformedMessageException;
import io.nbdnetty.codec.NbdMetaContextReply;
import io.nbdnetty.codec.NbdOffsetDataChunk;
import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdReplyFlags;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static io.nbdnetty.client.TestSupport.assertDead;
import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * More hostile servers: slow (trickling) servers against the timeouts, the wrong header style, lengths near 2^32 and
 * 2^64, a STARTTLS downgrade, oversized strings, huge block status replies, and the memory limits of
 * {@link NbdClientConfig} (docs/LIMITS.md). Each checks the typed exception, the final state, that every future
 * completes and (through the leak check extension) that no buffer leaks.
 */
class HostileServerLimitsTest {
    private static final long T = 10;
    private static final int DONE = NbdReplyFlags.DONE;
    private static final Map<String, Integer> BASE = Map.of("base:allocation", 0);

    private static <E extends Throwable> E fails(Class<E> type, CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> {
            Object v = f.get(T, TimeUnit.SECONDS);
            io.netty.util.ReferenceCountUtil.release(v);
        });
        assertTrue(!(e.getCause() instanceof OutOfMemoryError), "out of memory");
        return assertInstanceOf(type, e.getCause(), () -> "cause: " + e.getCause());
    }

    /** Sends bytes one at a time, {@code gapMillis} apart, until all are sent or the client hangs up. */
    private static void trickle(Peer p, byte[] bytes, long gapMillis) throws Exception {
        try {
            for (byte b : bytes) {
                p.sendRaw(new byte[] {b});
                Thread.sleep(gapMillis);
            }
        } catch (IOException e) {
            // The client gave up: that is the point.
        }
    }

    /** A fixed-newstyle handshake that grants extended headers (and the given contexts), up to the GO ACK. */
    private static void extendedHandshake(Peer p, Map<String, Integer> contexts, long size) throws IOException {
        p.greeting(NbdHandshakeFlags.FIXED_NEWSTYLE | NbdHandshakeFlags.NO_ZEROES);
        p.readClientFlags();
        while (true) {
            Opt o = p.readOption();
            NbdOption opt = o.option();
            if (opt.equals(NbdOption.EXTENDED_HEADERS) || opt.equals(NbdOption.STRUCTURED_REPLY)) {
                p.send(new NbdAckReply(opt));
                if (opt.equals(NbdOption.EXTENDED_HEADERS)) {
                    p.extended = true;
                }
            } else if (opt.equals(NbdOption.SET_META_CONTEXT)) {
                for (Map.Entry<String, Integer> e : contexts.entrySet()) {
                    p.send(new NbdMetaContextReply(opt, e.getValue(), e.getKey()));
                }
                p.send(new NbdAckReply(opt));
            } else if (opt.equals(NbdOption.GO)) {
                p.send(new NbdInfoReply(opt, new NbdInfo.Export(size, ScriptedServer.DEFAULT_TX_FLAGS)));
                p.send(new NbdAckReply(opt));
                return;
            } else {
                p.refuse(o);
            }
        }
    }

    /** An extended (32-byte) request header as received: {flags, type, cookie, offset, length}. */
    private static long[] readExtendedRequest(Peer p) throws IOException {
        ByteBuffer h = p.readFully(NbdConstants.EXTENDED_REQUEST_HEADER_LENGTH);
        int magic = h.getInt();
        if (magic != NbdConstants.EXTENDED_REQUEST_MAGIC) {
            throw new IOException("bad extended request magic " + Integer.toHexString(magic));
        }
        long flags = Short.toUnsignedInt(h.getShort());
        long type = Short.toUnsignedInt(h.getShort());
        long[] r = {flags, type, h.getLong(), h.getLong(), h.getLong()};
        if ((flags & NbdCommandFlags.PAYLOAD_LEN) != 0) {
            p.readFully((int) r[4]);
        }
        return r;
    }

    private static byte[] extendedHeader(int flags, int type, long cookie, long offset, long length) {
        return ByteBuffer.allocate(32).putInt(NbdConstants.EXTENDED_REPLY_MAGIC).putShort((short) flags)
                .putShort((short) type).putLong(cookie).putLong(offset).putLong(length).array();
    }

    private static byte[] structuredHeader(int flags, int type, long cookie, int length) {
        return ByteBuffer.allocate(20).putInt(NbdConstants.STRUCTURED_REPLY_MAGIC).putShort((short) flags)
                .putShort((short) type).putLong(cookie).putInt(length).array();
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    // ------------------------------------------------------------------------------------------ slow servers

    @Test
    void handshakeTrickledOneByteEvery100msHitsTheHandshakeTimeout() throws Exception {
        byte[] greetingAndAck = concat(
                ByteBuffer.allocate(18).putLong(NbdConstants.NBDMAGIC).putLong(NbdConstants.IHAVEOPT)
                        .putShort((short) (NbdHandshakeFlags.FIXED_NEWSTYLE | NbdHandshakeFlags.NO_ZEROES)).array(),
                ByteBuffer.allocate(20).putLong(NbdConstants.OPTION_REPLY_MAGIC).putInt(11).putInt(1).putInt(0)
                        .array());
        try (ScriptedServer s = ScriptedServer.start(p -> {
            trickle(p, greetingAndAck, 100);
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().handshakeTimeout(Duration.ofMillis(800))
                .build())) {
            long start = System.nanoTime();
            fails(NbdTimeoutException.class, h.connect(s.connect()));
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(3), "the timeout fired late");
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void replyTrickledOneByteEvery100msHitsTheRequestTimeout() throws Exception {
        CountDownLatch trickling = new CountDownLatch(1);
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true);
            Req r = p.readRequest();
            byte[] reply = concat(structuredHeader(DONE, 1, r.cookie(), 8 + 512),
                    ByteBuffer.allocate(8).putLong(r.offset()).array(), pattern(512, 1));
            trickling.countDown();
            trickle(p, reply, 100);
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder()
                .requestTimeout(Duration.ofMillis(600)).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            CompletableFuture<ByteBuf> read = c.read(0, 512);
            assertTrue(trickling.await(T, TimeUnit.SECONDS));
            fails(NbdTimeoutException.class, read);
            // A request timeout fails that request only; the handle stays usable until the caller gives up on it.
            assertTrue(h.state() == NbdState.READY || h.state() == NbdState.PROCESSING, "state " + h.state());
            h.close();
            assertEquals(NbdState.CLOSED, h.state());
            s.awaitScript();
        }
    }

    // ---------------------------------------------------------------------------------------- header styles

    /** Compact handshake; the script answers the first request (a READ of 512 at 0) with {@code reply}. */
    private static <E extends Throwable> E compactServer(Function<Req, byte[]> reply, Class<E> expected,
            NbdClientConfig config) throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true, BASE, 1 << 20, ScriptedServer.DEFAULT_TX_FLAGS);
            Req r = p.readRequest();
            p.sendRaw(reply.apply(r));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(config)) {
            NbdConnection c = await(h.connect(s.connect()));
            assertEquals(NbdReplyStyle.STRUCTURED, c.replyStyle());
            E e = fails(expected, c.read(0, 512));
            assertDead(h);
            s.awaitScript();
            return e;
        }
    }

    /** Extended handshake; the script answers the first request with {@code reply}. */
    private static <E extends Throwable> E extendedServer(Function<long[], byte[]> reply,
            Function<NbdConnection, CompletableFuture<?>> request, Class<E> expected) throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            extendedHandshake(p, BASE, 1L << 40);
            long[] r = readExtendedRequest(p);
            p.sendRaw(reply.apply(r));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().addMetaContext("base:allocation").build())) {
            NbdConnection c = await(h.connect(s.connect()));
            assertEquals(NbdReplyStyle.EXTENDED, c.replyStyle());
            E e = fails(expected, request.apply(c));
            assertDead(h);
            s.awaitScript();
            return e;
        }
    }

    @Test
    void extendedReplyWhenExtendedHeadersWereNotNegotiated() throws Exception {
        NbdProtocolException e = compactServer(r -> extendedHeader(DONE, 0, r.cookie(), r.offset(), 0),
                NbdProtocolException.class, NbdClientConfig.builder().requestExtendedHeaders(false).build());
        assertInstanceOf(NbdBadMagicException.class, e.getCause());
    }

    @Test
    void compactRepliesWhenExtendedHeadersWereNegotiated() throws Exception {
        NbdProtocolException structured = extendedServer(r -> structuredHeader(DONE, 0, r[2], 0),
                c -> c.read(0, 512), NbdProtocolException.class);
        assertInstanceOf(NbdBadMagicException.class, structured.getCause());
        NbdProtocolException simple = extendedServer(r -> ByteBuffer.allocate(16)
                .putInt(NbdConstants.SIMPLE_REPLY_MAGIC).putInt(0).putLong(r[2]).array(),
                c -> c.flush(), NbdProtocolException.class);
        assertInstanceOf(NbdBadMagicException.class, simple.getCause());
    }

    // ------------------------------------------------------------------------------------- huge lengths

    @ParameterizedTest
    @ValueSource(longs = {-1L, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 32, (1L << 32) - 1, (1L << 32) + 9,
            1L << 30})
    void extendedHeaderLengthsNear2To32And2To64FailBeforeAnyPayload(long length) throws Exception {
        NbdProtocolException e = extendedServer(r -> extendedHeader(DONE, 1, r[2], r[3], length),
                c -> c.read(0, 512), NbdProtocolException.class);
        NbdBadLengthException cause = assertInstanceOf(NbdBadLengthException.class, e.getCause());
        assertTrue(cause.getMessage().contains(Long.toUnsignedString(length)), cause.getMessage());
    }

    @Test
    void compactChunkLengthNear2To32FailsBeforeAnyPayload() throws Exception {
        NbdProtocolException e = compactServer(r -> structuredHeader(DONE, 1, r.cookie(), -1),
                NbdProtocolException.class, NbdClientConfig.builder().requestExtendedHeaders(false)
                        .addMetaContext("base:allocation").build());
        assertInstanceOf(NbdBadLengthException.class, e.getCause());
    }

    @Test
    void blockStatusExtDescriptorCountNear2To32() throws Exception {
        NbdProtocolException e = extendedServer(r -> concat(extendedHeader(DONE, 6, r[2], r[3], 24),
                ByteBuffer.allocate(24).putInt(0).putInt(-1).putLong(4096).putLong(0).array()),
                c -> c.blockStatus(0, 4096, 0), NbdProtocolException.class);
        assertInstanceOf(NbdMalformedMessageException.class, e.getCause());
    }

    @ParameterizedTest
    @ValueSource(longs = {-1L, Long.MIN_VALUE, -4096L})
    void blockStatusExtDescriptorLengthsNear2To64(long extentLength) throws Exception {
        // One descriptor: the last (and only) one may run past the request, but not past what a long can hold.
        NbdProtocolException e = extendedServer(r -> concat(extendedHeader(DONE, 6, r[2], r[3], 24),
                ByteBuffer.allocate(24).putInt(0).putInt(1).putLong(extentLength).putLong(0).array()),
                c -> c.blockStatus(0, 4096, 0), NbdProtocolException.class);
        assertTrue(e.getMessage().contains("block status"), e.getMessage());
        // Two descriptors: the first already runs past the request.
        extendedServer(r -> concat(extendedHeader(DONE, 6, r[2], r[3], 40),
                ByteBuffer.allocate(40).putInt(0).putInt(2).putLong(extentLength).putLong(0).putLong(512)
                        .putLong(0).array()), c -> c.blockStatus(0, 4096, 0), NbdProtocolException.class);
    }

    // ------------------------------------------------------------------------------------------------ TLS

    private static NbdClientConfig requireTls() throws Exception {
        return NbdClientConfig.builder().tls(NbdTlsMode.REQUIRE).sslContext(SslContextBuilder.forClient()
                .trustManager(InsecureTrustManagerFactory.INSTANCE).build()).build();
    }

    @Test
    void startTlsRefusedWhenTlsIsRequired() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.FIXED_NEWSTYLE | NbdHandshakeFlags.NO_ZEROES);
            p.readClientFlags();
            Opt o = p.readOption();
            assertEquals(NbdOption.STARTTLS, o.option());
            p.refuse(o);
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(requireTls())) {
            NbdOptionException e = fails(NbdOptionException.class, h.connect(s.connect()));
            assertTrue(e.getMessage().contains("TLS is required"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    private static final byte[] PLAIN_TEXT = "this is not a TLS record, just plain text from a downgrading server\r\n"
            .repeat(4).getBytes(StandardCharsets.US_ASCII);

    /** The server acknowledges STARTTLS, then talks plain text; {@code pauseMillis} between the two (or none). */
    private static NbdException startTlsThenPlainText(long pauseMillis) throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.FIXED_NEWSTYLE | NbdHandshakeFlags.NO_ZEROES);
            p.readClientFlags();
            Opt o = p.readOption();
            assertEquals(NbdOption.STARTTLS, o.option());
            byte[] ack = optionReply(5, 1, new byte[0]);
            try {
                if (pauseMillis == 0) {
                    p.sendRaw(concat(ack, PLAIN_TEXT));
                } else {
                    p.sendRaw(ack);
                    Thread.sleep(pauseMillis);
                    p.sendRaw(PLAIN_TEXT);
                }
            } catch (IOException e) {
                // the client hung up already
            }
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(requireTls())) {
            NbdException e = fails(NbdException.class, h.connect(s.connect()));
            assertTrue(e.getMessage().contains("TLS"), e.getMessage());
            assertDead(h);
            s.awaitScript();
            return e;
        }
    }

    @Test
    void startTlsAcknowledgedThenPlainTextInTheSameSegment() throws Exception {
        // Bytes after the ACK that arrive with it must not be decoded as (seemingly protected) option replies.
        NbdException e = startTlsThenPlainText(0);
        assertInstanceOf(NbdProtocolException.class, e);
        assertTrue(e.getMessage().contains("plain text after the ACK of NBD_OPT_STARTTLS"), e.getMessage());
    }

    @Test
    void startTlsAcknowledgedThenPlainTextInsteadOfTheTlsHandshake() throws Exception {
        NbdException e = startTlsThenPlainText(300);
        assertTrue(e.getMessage().contains("TLS handshake failed"), e.getMessage());
    }

    // -------------------------------------------------------------------------------------- long strings

    private static byte[] optionReply(int option, int type, byte[] data) {
        return concat(ByteBuffer.allocate(20).putLong(NbdConstants.OPTION_REPLY_MAGIC).putInt(option).putInt(type)
                .putInt(data.length).array(), data);
    }

    private static byte[] string(int n) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) 'x');
        return b;
    }

    /** Opt mode; the script answers NBD_OPT_LIST with {@code reply}. */
    private static void listReply(byte[] reply) throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.FIXED_NEWSTYLE | NbdHandshakeFlags.NO_ZEROES);
            p.readClientFlags();
            while (true) {
                Opt o = p.readOption();
                if (o.option().equals(NbdOption.LIST)) {
                    break;
                }
                p.refuse(o);
            }
            p.sendRaw(reply);
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().optMode(true).build())) {
            h.connect(s.connect());
            await(h.negotiatingFuture());
            NbdProtocolException e = fails(NbdProtocolException.class, h.optList());
            assertInstanceOf(NbdMalformedMessageException.class, e.getCause());
            assertTrue(e.getMessage().contains("4096"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void exportNameOver4096BytesInAServerReply() throws Exception {
        listReply(optionReply(3, 2, concat(ByteBuffer.allocate(4).putInt(5000).array(), string(5000))));
    }

    @Test
    void exportDescriptionOver4096BytesInAServerReply() throws Exception {
        listReply(optionReply(3, 2, concat(ByteBuffer.allocate(4).putInt(4).array(), "disk".getBytes(
                StandardCharsets.US_ASCII), string(5000))));
    }

    @Test
    void infoDescriptionOver4096Bytes() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.FIXED_NEWSTYLE | NbdHandshakeFlags.NO_ZEROES);
            p.readClientFlags();
            while (true) {
                Opt o = p.readOption();
                if (o.option().equals(NbdOption.GO)) {
                    break;
                }
                p.refuse(o);
            }
            p.sendRaw(optionReply(7, 3, concat(new byte[] {0, 2}, string(5000))));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create()) {
            NbdProtocolException e = fails(NbdProtocolException.class, h.connect(s.connect()));
            assertInstanceOf(NbdMalformedMessageException.class, e.getCause());
            assertDead(h);
            s.awaitScript();
        }
    }

    // ------------------------------------------------------------------------------ large replies, limits

    private static final int MILLION = 1_000_000;

    private static NbdBlockStatusChunk millionExtents(long cookie) {
        long[] extents = new long[2 * MILLION];
        for (int i = 0; i < MILLION; i++) {
            extents[2 * i] = 1;
            extents[2 * i + 1] = i & 3;
        }
        return new NbdBlockStatusChunk(DONE, cookie, 0, false, 0, extents);
    }

    @Test
    void blockStatusWithAMillionExtentsWithinTheLimit() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true, BASE, 1 << 24, ScriptedServer.DEFAULT_TX_FLAGS);
            Req r = p.readRequest();
            p.send(millionExtents(r.cookie()));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().addMetaContext("base:allocation").build())) {
            NbdConnection c = await(h.connect(s.connect()));
            NbdBlockStatus st = await(c.blockStatus(0, 4 << 20, 0));
            List<NbdExtent> extents = st.extents("base:allocation");
            assertEquals(MILLION, extents.size());
            assertEquals(new NbdExtent(MILLION - 1, 1, (MILLION - 1) & 3), extents.get(MILLION - 1));
            assertEquals(NbdState.READY, h.state());
            h.close();
            s.awaitScript();
        }
    }

    @Test
    void blockStatusWithAMillionExtentsBeyondTheConfiguredPayloadLimit() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true, BASE, 1 << 24, ScriptedServer.DEFAULT_TX_FLAGS);
            Req r = p.readRequest();
            try {
                p.send(millionExtents(r.cookie()));
            } catch (IOException e) {
                // the client hung up mid-reply
            }
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().addMetaContext("base:allocation")
                .maxReplyPayloadLength(4 << 20).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            NbdProtocolException e = fails(NbdProtocolException.class, c.blockStatus(0, 4 << 20, 0));
            assertInstanceOf(NbdBadLengthException.class, e.getCause());
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void aOneGibChunkAgainstA64MibLimitFailsBeforeAllocating() throws Exception {
        Runtime rt = Runtime.getRuntime();
        NbdProtocolException e = compactServer(r -> structuredHeader(DONE, 1, r.cookie(), 1 << 30),
                NbdProtocolException.class, NbdClientConfig.builder().requestExtendedHeaders(false)
                        .addMetaContext("base:allocation").maxReplyPayloadLength(64 << 20).build());
        NbdBadLengthException cause = assertInstanceOf(NbdBadLengthException.class, e.getCause());
        assertEquals(1L << 30, cause.length());
        // The server never sent the payload: the client refused on the header alone, holding nothing.
        assertTrue(rt.totalMemory() - rt.freeMemory() < rt.maxMemory() - (1L << 30) || rt.maxMemory() < (1L << 30),
                "heap use suggests a 1 GiB buffer");
    }

    @Test
    void maxInFlightBytesBoundsWhatIsSentAndTheRestWaitsLocally() throws Exception {
        CountDownLatch checked = new CountDownLatch(1);
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true);
            List<Req> first = List.of(p.readRequest(), p.readRequest());
            assertTrue(checked.await(T, TimeUnit.SECONDS));
            for (Req r : first) {
                p.send(new NbdOffsetDataChunk(DONE, r.cookie(), 0, r.offset(),
                        Unpooled.wrappedBuffer(pattern((int) r.length(), (int) (r.offset() >> 15)))));
            }
            for (int i = 2; i < 10; i++) {
                Req r = p.readRequest();
                p.send(new NbdOffsetDataChunk(DONE, r.cookie(), 0, r.offset(),
                        Unpooled.wrappedBuffer(pattern((int) r.length(), (int) (r.offset() >> 15)))));
            }
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().maxInFlightBytes(64 << 10).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                reads.add(c.read((long) i << 15, 32 << 10));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(T);
            while (c.stats().queued() != 8 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            Thread.sleep(200);
            assertEquals(2, c.inFlight());
            assertEquals(8, c.stats().queued());
            checked.countDown();
            for (int i = 0; i < 10; i++) {
                ByteBuf b = await(reads.get(i));
                try {
                    assertArrayEquals(pattern(32 << 10, i), ByteBufUtil.getBytes(b));
                } finally {
                    b.release();
                }
            }
            assertEquals(NbdState.READY, h.state());
            h.close();
            s.awaitScript();
        }
    }

    @Test
    void aReadLargerThanTheReplyLimitIsRefusedBeforeItIsSent() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true, BASE, 1 << 24, ScriptedServer.DEFAULT_TX_FLAGS);
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().strictMode(0)
                .maxReplyPayloadLength(1 << 20).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            NbdStrictModeException e = fails(NbdStrictModeException.class, c.read(0, 1 << 20));
            assertTrue(e.getMessage().contains("maxReplyPayloadLength"), e.getMessage());
            assertEquals(0, c.stats().requestsSent());
            assertEquals(NbdState.READY, h.state());
            h.close();
            s.awaitScript();
        }
    }

    /** 64 KiB in 65,536 one-byte chunks, last first, alternating data and holes: assembled in place, nothing pinned. */
    @Test
    void aReadInSixtyFiveThousandOneByteChunksOutOfOrder() throws Exception {
        int n = 1 << 16;
        byte[] expected = new byte[n];
        for (int i = 0; i < n; i++) {
            expected[i] = (i & 1) == 0 ? (byte) (i * 31 + 1) : 0;
        }
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true);
            for (int k = 0; k < 2; k++) {
                Req r = p.readRequest();
                ByteBuffer all = ByteBuffer.allocate(n * 32);
                for (int i = n - 1; i >= 0; i--) {
                    if ((i & 1) == 0) {
                        all.put(structuredHeader(0, 1, r.cookie(), 9)).putLong(i).put(expected[i]);
                    } else {
                        all.put(structuredHeader(0, 2, r.cookie(), 12)).putLong(i).putInt(1);
                    }
                }
                all.put(structuredHeader(DONE, 0, r.cookie(), 0));
                p.sendRaw(Arrays.copyOf(all.array(), all.position()));
            }
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(s.connect()));
            ByteBuf b = await(c.read(0, n));
            try {
                assertArrayEquals(expected, ByteBufUtil.getBytes(b));
            } finally {
                b.release();
            }
            ByteBuf dst = Unpooled.buffer(16).writeBytes(new byte[] {9, 9, 9});
            try {
                await(c.read(0, dst, n, 0));
                assertEquals(3 + n, dst.writerIndex());
                assertArrayEquals(expected, ByteBufUtil.getBytes(dst, 3, n));
            } finally {
                dst.release();
            }
            assertEquals(NbdState.READY, h.state());
            h.close();
            s.awaitScript();
        }
    }
}
