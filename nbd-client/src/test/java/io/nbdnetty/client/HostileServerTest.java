package io.nbdnetty.client;

import io.nbdnetty.client.ScriptedServer.Opt;
import io.nbdnetty.client.ScriptedServer.Peer;
import io.nbdnetty.client.ScriptedServer.Req;
import io.nbdnetty.codec.NbdAckReply;
import io.nbdnetty.codec.NbdBlockStatusChunk;
import io.nbdnetty.codec.NbdClientFlags;
import io.nbdnetty.codec.NbdErrno;
import io.nbdnetty.codec.NbdErrorChunk;
import io.nbdnetty.codec.NbdErrorReply;
import io.nbdnetty.codec.NbdExportNameReply;
import io.nbdnetty.codec.NbdHandshakeFlags;
import io.nbdnetty.codec.NbdNoneChunk;
import io.nbdnetty.codec.NbdOffsetDataChunk;
import io.nbdnetty.codec.NbdOffsetHoleChunk;
import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdOptionReplyType;
import io.nbdnetty.codec.NbdReplyFlags;
import io.nbdnetty.codec.NbdReplyType;
import io.nbdnetty.codec.NbdSimpleReply;
import io.nbdnetty.codec.NbdTruncatedMessageException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.nbdnetty.client.TestSupport.assertDead;
import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.bytes;
import static io.nbdnetty.client.TestSupport.fails;
import static io.nbdnetty.client.TestSupport.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client against scripted servers that break the protocol on purpose: every scenario checks the typed exception,
 * that the handle ends DEAD (unless said otherwise), that every future completes and that nothing leaks.
 */
class HostileServerTest {
    private static final int DONE = NbdReplyFlags.DONE;

    /** Waits for the future to fail and returns its cause, checking the type. */

    private static NbdOffsetDataChunk data(int flags, long cookie, long offset, byte[] bytes) {
        return new NbdOffsetDataChunk(flags, cookie, 0, offset, Unpooled.wrappedBuffer(bytes));
    }

    // ---------------------------------------------------------------------------------------------- handshake

    @Test
    void badGreetingMagic() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.sendRaw("NBDMAGIC-but-not-really".getBytes(StandardCharsets.US_ASCII));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create()) {
            NbdProtocolException e = fails(NbdProtocolException.class, h.connect(s.connect()));
            assertTrue(e.getMessage().contains("malformed handshake"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void serverClosesDuringHandshake() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.ALL);
            p.readClientFlags();
            p.readOption();
            p.close();
        }); NbdHandle h = NbdHandle.create()) {
            fails(NbdConnectionClosedException.class, h.connect(s.connect()));
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void optionReplyForAnOptionNotAsked() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.ALL);
            p.readClientFlags();
            Opt o = p.readOption();
            assertEquals(NbdOption.EXTENDED_HEADERS, o.option());
            p.send(new NbdAckReply(NbdOption.GO));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create()) {
            NbdProtocolException e = fails(NbdProtocolException.class, h.connect(s.connect()));
            assertTrue(e.getMessage().contains("NBD_OPT_GO"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void unsolicitedOptionReplyInOptMode() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.ALL);
            p.readClientFlags();
            p.refuse(p.readOption()); // extended headers
            Opt sr = p.readOption();
            assertEquals(NbdOption.STRUCTURED_REPLY, sr.option());
            p.send(new NbdAckReply(NbdOption.STRUCTURED_REPLY));
            p.send(new NbdAckReply(NbdOption.LIST));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().optMode(true).build())) {
            CompletableFuture<NbdConnection> ready = h.connect(s.connect());
            await(h.negotiatingFuture());
            NbdProtocolException e = fails(NbdProtocolException.class, ready);
            assertTrue(e.getMessage().contains("no option was in flight"), e.getMessage());
            assertDead(h);
            fails(NbdStateException.class, h.optList());
            s.awaitScript();
        }
    }

    @Test
    void oversizedOptionReplyIsRefusedBeforeItsPayloadArrives() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.ALL);
            p.readClientFlags();
            p.readOption();
            ByteBuffer header = ByteBuffer.allocate(20);
            header.putLong(0x3e889045565a9L).putInt(11).putInt(0x80000001).putInt(1_000_000);
            p.sendRaw(header.array());
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().maxOptionReplyLength(1024).build())) {
            NbdProtocolException e = fails(NbdProtocolException.class, h.connect(s.connect()));
            assertTrue(e.getMessage().contains("1000000"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    /** An old server: no option but EXPORT_NAME; GO is refused with ERR_UNSUP. */
    private static void oldServer(Peer p, int handshakeFlags, boolean zeroes, String expectedName) throws Exception {
        p.greeting(handshakeFlags);
        int clientFlags = p.readClientFlags();
        assertEquals((handshakeFlags & NbdHandshakeFlags.NO_ZEROES) != 0,
                (clientFlags & NbdClientFlags.NO_ZEROES) != 0, "client flags " + clientFlags);
        while (true) {
            Opt o = p.readOption();
            if (o.option().equals(NbdOption.EXPORT_NAME)) {
                assertEquals(expectedName, new String(o.data(), StandardCharsets.UTF_8));
                break;
            }
            p.refuse(o);
        }
        p.send(new NbdExportNameReply(64 << 10, ScriptedServer.DEFAULT_TX_FLAGS, zeroes));
        Req r = p.readRequest();
        assertEquals(0, r.type());
        p.send(new NbdSimpleReply(r.cookie(), NbdErrno.OK, Unpooled.wrappedBuffer(pattern((int) r.length(), 3))));
        p.awaitClientClose();
    }

    @Test
    void goRefusedWithErrUnsupFallsBackToExportNameWithoutZeroes() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> oldServer(p, NbdHandshakeFlags.ALL, false, "disk"));
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().exportName("disk").build())) {
            NbdConnection c = await(h.connect(s.connect()));
            assertEquals(64 << 10, c.size());
            assertEquals(NbdReplyStyle.SIMPLE, c.replyStyle());
            assertEquals("newstyle-fixed", h.protocol());
            assertArrayEquals(pattern(100, 3), bytes(await(c.read(10, 100))));
            h.close();
            assertEquals(NbdState.CLOSED, h.state());
            s.awaitScript();
        }
    }

    @Test
    void goRefusedWithErrUnsupFallsBackToExportNameWithZeroes() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> oldServer(p, NbdHandshakeFlags.FIXED_NEWSTYLE, true, ""));
             NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(s.connect()));
            assertEquals(64 << 10, c.size());
            assertArrayEquals(pattern(512, 3), bytes(await(c.read(0, 512))));
            h.close();
            s.awaitScript();
        }
    }

    @Test
    void exportNameFallbackForAnUnknownExportSaysSo() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.ALL);
            p.readClientFlags();
            Opt o;
            while (!(o = p.readOption()).option().equals(NbdOption.EXPORT_NAME)) {
                p.send(new NbdErrorReply(o.option(), NbdOptionReplyType.ERR_UNSUP, "old"));
            }
            p.close(); // what the spec says a server does with an unknown name here
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().exportName("nope").build())) {
            NbdConnectionClosedException e = fails(NbdConnectionClosedException.class, h.connect(s.connect()));
            assertTrue(e.getMessage().contains("NBD_OPT_EXPORT_NAME"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void serverThatClosesInsteadOfAcknowledgingAbortEndsTheHandleCleanly() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.ALL);
            p.readClientFlags();
            p.refuse(p.readOption());
            p.refuse(p.readOption());
            assertEquals(NbdOption.ABORT, p.readOption().option());
            p.close(); // nbd-server does this
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().optMode(true).build())) {
            CompletableFuture<NbdConnection> ready = h.connect(s.connect());
            await(h.negotiatingFuture());
            await(h.optAbort());
            assertEquals(NbdState.CLOSED, h.state());
            fails(NbdConnectionClosedException.class, ready);
            await(h.closeFuture());
            s.awaitScript();
        }
    }

    @Test
    void closeWhileAnOptionIsInFlightNamesTheOption() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.ALL);
            p.readClientFlags();
            p.refuse(p.readOption());
            p.refuse(p.readOption());
            assertEquals(NbdOption.LIST, p.readOption().option());
            p.close();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().optMode(true).build())) {
            h.connect(s.connect());
            await(h.negotiatingFuture());
            NbdConnectionClosedException e = fails(NbdConnectionClosedException.class, h.optList());
            assertTrue(e.getMessage().contains("NBD_OPT_LIST"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void goAckWithoutInfoExport() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.ALL);
            p.readClientFlags();
            while (true) {
                Opt o = p.readOption();
                if (o.option().equals(NbdOption.GO)) {
                    p.send(new NbdAckReply(NbdOption.GO));
                    break;
                }
                p.refuse(o);
            }
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create()) {
            NbdProtocolException e = fails(NbdProtocolException.class, h.connect(s.connect()));
            assertTrue(e.getMessage().contains("NBD_INFO_EXPORT"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void handshakeTimeout() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.ALL);
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder()
                .handshakeTimeout(Duration.ofMillis(300)).build())) {
            fails(NbdTimeoutException.class, h.connect(s.connect()));
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void optModeOptionWithoutAnswerTimesOut() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.ALL);
            p.readClientFlags();
            p.readOption();   // NBD_OPT_LIST, never answered
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().optMode(true).requestStructuredReplies(false)
                .requestExtendedHeaders(false).handshakeTimeout(Duration.ofMillis(300)).build())) {
            h.connect(s.connect());
            h.negotiatingFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
            fails(NbdTimeoutException.class, h.optList());
            assertDead(h);
            s.awaitScript();
        }
    }

    // ------------------------------------------------------------------------------------------- transmission

    private static final Map<String, Integer> BASE = Map.of("base:allocation", 0);

    private static NbdClientConfig withBase() {
        return NbdClientConfig.builder().addMetaContext("base:allocation").build();
    }

    /**
     * Runs a transmission-phase scenario: the script answers the first request ({@code first}) badly; a second
     * request (a FLUSH the server never answers) is in flight too and must fail with the same cause.
     */
    private interface BadReply {
        void reply(Peer p, Req first) throws Exception;
    }

    private static <E extends Throwable> E transmission(boolean structured, BadReply bad,
            java.util.function.Function<NbdConnection, CompletableFuture<?>> first, Class<E> expected)
            throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(structured, BASE, 1 << 20, ScriptedServer.DEFAULT_TX_FLAGS);
            Req r = p.readRequest();
            Req flush = p.readRequest();
            assertEquals(3, flush.type());
            bad.reply(p, r);
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(withBase())) {
            NbdConnection c = await(h.connect(s.connect()));
            CompletableFuture<?> f = first.apply(c);
            CompletableFuture<Void> second = c.flush();
            E e = fails(expected, f);
            Throwable secondCause = fails(NbdException.class, second);
            assertTrue(secondCause == e || expected.isInstance(secondCause), "second: " + secondCause);
            assertDead(h);
            fails(NbdException.class, c.read(0, 1));
            assertEquals(0, c.inFlight());
            s.awaitScript();
            return e;
        }
    }

    @Test
    void replyWithUnknownCookie() throws Exception {
        NbdProtocolException e = transmission(true, (p, r) -> p.send(new NbdNoneChunk(DONE, r.cookie() + 1000, 0)),
                c -> c.read(0, 512), NbdProtocolException.class);
        assertTrue(e.getMessage().contains("unknown cookie"), e.getMessage());
    }

    @Test
    void simpleErrorReplyWithUnknownCookie() throws Exception {
        NbdProtocolException e = transmission(true, (p, r) -> p.send(new NbdSimpleReply(r.cookie() + 77,
                NbdErrno.EIO)), c -> c.read(0, 512), NbdProtocolException.class);
        assertTrue(e.getMessage().contains("unknown cookie"), e.getMessage());
    }

    @Test
    void duplicateReplyForACookie() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true);
            Req w = p.readRequest();
            Req flush = p.readRequest();
            p.send(new NbdSimpleReply(w.cookie(), NbdErrno.OK));
            p.send(new NbdSimpleReply(w.cookie(), NbdErrno.OK));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(s.connect()));
            CompletableFuture<Void> w = c.write(0, Unpooled.wrappedBuffer(new byte[] {1, 2, 3}));
            CompletableFuture<Void> flush = c.flush();
            await(w);
            NbdProtocolException e = fails(NbdProtocolException.class, flush);
            assertTrue(e.getMessage().contains("unknown cookie"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void structuredChunkAfterDone() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true);
            Req r = p.readRequest();
            p.readRequest();
            p.send(data(DONE, r.cookie(), 0, pattern(512, 1)));
            p.send(new NbdNoneChunk(DONE, r.cookie(), 0));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(s.connect()));
            CompletableFuture<ByteBuf> read = c.read(0, 512);
            CompletableFuture<Void> flush = c.flush();
            assertArrayEquals(pattern(512, 1), bytes(await(read)));
            NbdProtocolException e = fails(NbdProtocolException.class, flush);
            assertTrue(e.getMessage().contains("unknown cookie"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void offsetDataOutsideTheRequestedRange() throws Exception {
        NbdProtocolException e = transmission(true, (p, r) -> p.send(data(DONE, r.cookie(), 0, pattern(512, 1))),
                c -> c.read(4096, 512), NbdProtocolException.class);
        assertTrue(e.getMessage().contains("outside the request"), e.getMessage());
    }

    @Test
    void overlappingOffsetData() throws Exception {
        NbdProtocolException e = transmission(true, (p, r) -> {
            p.send(data(0, r.cookie(), 0, pattern(512, 1)));
            p.send(data(DONE, r.cookie(), 256, pattern(512, 2)));
        }, c -> c.read(0, 1024), NbdProtocolException.class);
        assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
    }

    @Test
    void dataLongerThanRequested() throws Exception {
        NbdProtocolException e = transmission(true, (p, r) -> p.send(data(DONE, r.cookie(), 0, pattern(1024, 1))),
                c -> c.read(0, 512), NbdProtocolException.class);
        assertTrue(e.getMessage().contains("outside the request"), e.getMessage());
    }

    @Test
    void noneChunkWithoutDone() throws Exception {
        NbdProtocolException e = transmission(true, (p, r) -> p.send(new NbdNoneChunk(0, r.cookie(), 0)),
                c -> c.read(0, 512), NbdProtocolException.class);
        assertTrue(e.getMessage().contains("without the DONE flag"), e.getMessage());
    }

    @Test
    void blockStatusForAnUnnegotiatedContextId() throws Exception {
        NbdProtocolException e = transmission(true, (p, r) -> p.send(new NbdBlockStatusChunk(DONE, r.cookie(), 0,
                false, 7, new long[] {4096, 0})), c -> c.blockStatus(0, 4096, 0), NbdProtocolException.class);
        assertTrue(e.getMessage().contains("context id 7"), e.getMessage());
    }

    @Test
    void structuredChunkWhenStructuredRepliesWereNotNegotiated() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(false);
            Req r = p.readRequest();
            p.readRequest();
            p.send(data(DONE, r.cookie(), 0, pattern(512, 1)));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(s.connect()));
            assertEquals(NbdReplyStyle.SIMPLE, c.replyStyle());
            CompletableFuture<ByteBuf> read = c.read(0, 512);
            CompletableFuture<Void> flush = c.flush();
            NbdProtocolException e = fails(NbdProtocolException.class, read);
            assertTrue(e.getMessage().contains("not negotiated"), e.getMessage());
            fails(NbdProtocolException.class, flush);
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void simpleReplyToReadUnderStructuredReplies() throws Exception {
        NbdProtocolException e = transmission(true, (p, r) -> p.send(new NbdSimpleReply(r.cookie(), NbdErrno.OK,
                Unpooled.wrappedBuffer(pattern(512, 1)))), c -> c.read(0, 512), NbdProtocolException.class);
        assertTrue(e.getMessage().contains("simple reply to NBD_CMD_READ"), e.getMessage());
    }

    @Test
    void errorChunkWithErrorZero() throws Exception {
        NbdProtocolException e = transmission(true, (p, r) -> p.send(new NbdErrorChunk(DONE, NbdReplyType.ERROR,
                r.cookie(), 0, NbdErrno.OK, "all is well", 0)), c -> c.read(0, 512), NbdProtocolException.class);
        assertTrue(e.getMessage().contains("error 0"), e.getMessage());
    }

    @Test
    void errorOffsetOutsideTheRange() throws Exception {
        NbdProtocolException e = transmission(true, (p, r) -> p.send(new NbdErrorChunk(DONE,
                NbdReplyType.ERROR_OFFSET, r.cookie(), 0, NbdErrno.EIO, "bad sector", 0)),
                c -> c.read(4096, 512), NbdProtocolException.class);
        assertTrue(e.getMessage().contains("outside the request"), e.getMessage());
    }

    @Test
    void coverageIncompleteAtDone() throws Exception {
        NbdProtocolException e = transmission(true, (p, r) -> p.send(data(DONE, r.cookie(), 0, pattern(512, 1))),
                c -> c.read(0, 1024), NbdProtocolException.class);
        assertTrue(e.getMessage().contains("covered 512 of 1024"), e.getMessage());
    }

    @Test
    void serverStopsMidReplyThenCloses() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true);
            Req r = p.readRequest();
            p.readRequest();
            p.sendTruncated(data(DONE, r.cookie(), 0, pattern(512, 1)), 100);
            p.close();
        }); NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(s.connect()));
            CompletableFuture<ByteBuf> read = c.read(0, 512);
            CompletableFuture<Void> flush = c.flush();
            NbdException e = fails(NbdException.class, read);
            assertTrue(e instanceof NbdConnectionClosedException
                    || e instanceof NbdProtocolException && e.getCause() instanceof NbdTruncatedMessageException,
                    "cause: " + e);
            fails(NbdException.class, flush);
            assertDead(h);
            s.awaitScript();
        }
    }

    // ------------------------------------------------------------------------------------ well-formed replies

    @Test
    void wellFormedStructuredReadInPiecesAndOutOfOrderIsAssembled() throws Exception {
        byte[] a = pattern(1000, 1);
        byte[] b = pattern(24, 2);
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true);
            for (int i = 0; i < 2; i++) {
                Req r = p.readRequest();
                long o = r.offset();
                p.send(data(0, r.cookie(), o + 3000, b));
                p.send(new NbdOffsetHoleChunk(0, r.cookie(), 0, o + 1000, 2000));
                p.send(data(DONE, r.cookie(), o, a));
            }
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(s.connect()));
            byte[] expected = new byte[3024];
            System.arraycopy(a, 0, expected, 0, 1000);
            System.arraycopy(b, 0, expected, 3000, 24);
            assertArrayEquals(expected, bytes(await(c.read(8192, 3024))));
            ByteBuf dst = Unpooled.buffer(4000);
            dst.writeBytes(new byte[] {42, 43});
            Arrays.fill(expected, 1000, 3000, (byte) 0);
            await(c.read(0, dst, 3024, 0));
            assertEquals(2 + 3024, dst.writerIndex());
            byte[] got = bytes(dst);
            assertEquals(42, got[0]);
            assertArrayEquals(expected, Arrays.copyOfRange(got, 2, got.length));
            assertEquals(NbdState.READY, h.state());
            h.close();
            s.awaitScript();
        }
    }

    @Test
    void errorChunkInsideTheRangeIsACommandErrorAndTheConnectionCarriesOn() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true, BASE, 1 << 20, ScriptedServer.DEFAULT_TX_FLAGS);
            Req r = p.readRequest();
            p.send(data(0, r.cookie(), 4096, pattern(100, 1)));
            p.send(new NbdErrorChunk(0, NbdReplyType.ERROR_OFFSET, r.cookie(), 0, NbdErrno.EIO, "bad sector",
                    4196));
            p.send(new NbdNoneChunk(DONE, r.cookie(), 0));
            Req bs = p.readRequest();
            p.send(new NbdBlockStatusChunk(DONE, bs.cookie(), 0, false, 0, new long[] {4096, 3, 8192, 0}));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(withBase())) {
            NbdConnection c = await(h.connect(s.connect()));
            assertEquals(0, c.metaContexts().get(0).id());
            NbdCommandException e = fails(NbdCommandException.class, c.read(4096, 512));
            assertEquals(NbdErrno.EIO, e.error());
            assertEquals(4196, e.errorOffset());
            assertEquals("bad sector", e.serverMessage());
            NbdBlockStatus st = await(c.blockStatus(0, 65536, 0));
            assertEquals(java.util.List.of(new NbdExtent(0, 4096, 3), new NbdExtent(4096, 8192, 0)),
                    st.extents("base:allocation"));
            assertEquals(NbdState.READY, h.state());
            h.close();
            s.awaitScript();
        }
    }

    // ---------------------------------------------------------------------------------------- isolation

    @Test
    void anotherConnectionOnTheSameGroupKeepsWorkingWhileOneDies() throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (ScriptedServer good = ScriptedServer.start(p -> {
            p.handshake(true);
            for (int i = 0; i < 3; i++) {
                Req r = p.readRequest();
                p.send(data(DONE, r.cookie(), r.offset(), pattern((int) r.length(), i)));
            }
            p.awaitClientClose();
        }); ScriptedServer bad = ScriptedServer.start(p -> {
            p.handshake(true);
            Req r = p.readRequest();
            p.send(new NbdNoneChunk(0, r.cookie(), 0));
            p.awaitClientClose();
        }); NbdHandle hg = NbdHandle.create(NbdClientConfig.defaults(), group);
             NbdHandle hb = NbdHandle.create(NbdClientConfig.defaults(), group)) {
            NbdConnection cg = await(hg.connect(good.connect()));
            NbdConnection cb = await(hb.connect(bad.connect()));
            assertArrayEquals(pattern(64, 0), bytes(await(cg.read(0, 64))));
            fails(NbdProtocolException.class, cb.read(0, 64));
            assertDead(hb);
            assertArrayEquals(pattern(64, 1), bytes(await(cg.read(64, 64))));
            assertArrayEquals(pattern(64, 2), bytes(await(cg.read(128, 64))));
            assertEquals(NbdState.READY, hg.state());
            hg.close();
            assertEquals(NbdState.CLOSED, hg.state());
            assertTrue(!group.isShuttingDown(), "a caller's group is never shut down by a handle");
            good.awaitScript();
            bad.awaitScript();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}
