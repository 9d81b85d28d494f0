package io.nbdnetty.client;

import io.nbdnetty.client.ScriptedServer.Req;
import io.nbdnetty.codec.NbdBlockStatusChunk;
import io.nbdnetty.codec.NbdErrno;
import io.nbdnetty.codec.NbdErrorChunk;
import io.nbdnetty.codec.NbdHandshakeFlags;
import io.nbdnetty.codec.NbdOffsetDataChunk;
import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdReplyFlags;
import io.nbdnetty.codec.NbdReplyType;
import io.nbdnetty.codec.NbdSimpleReply;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static io.nbdnetty.client.TestSupport.assertDead;
import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.fails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Servers that stay within the letter of the protocol but flood or stall (issue: bounded by design): a block status
 * chunk of 2^20 extents, more extents than {@link NbdClientConfig#maxBlockStatusExtents()}, extents past the end of
 * the export, a server that stops in the middle of a reply ({@link NbdClientConfig#stallTimeout()}), a reply of error
 * chunks that never ends, and error messages far longer than the protocol's 4,096-byte strings. docs/LIMITS.md lists
 * each limit.
 */
class HostileServerFloodTest {
    private static final int DONE = NbdReplyFlags.DONE;
    private static final Map<String, Integer> BASE = Map.of("base:allocation", 7);
    private static final int MI = 1 << 20;

    private static NbdBlockStatusChunk chunk(int flags, long cookie, long... pairs) {
        return new NbdBlockStatusChunk(flags, cookie, 0, false, 7, pairs);
    }

    private static NbdBlockStatusChunk oneByteExtents(long cookie, int n) {
        long[] pairs = new long[2 * n];
        for (int i = 0; i < n; i++) {
            pairs[2 * i] = 1;
            pairs[2 * i + 1] = i & 1;
        }
        return new NbdBlockStatusChunk(DONE, cookie, 0, false, 7, pairs);
    }

    private static NbdClientConfig.Builder base() {
        return NbdClientConfig.builder().addMetaContext("base:allocation");
    }

    // ------------------------------------------------------------------------------------ block status memory

    @Test
    void aChunkOfTwoToTheTwentyOneByteExtentsIsHandedOverCompactly() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true, BASE, MI, ScriptedServer.DEFAULT_TX_FLAGS);
            Req r = p.readRequest();
            p.send(oneByteExtents(r.cookie(), MI));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(base().build())) {
            NbdConnection c = await(h.connect(s.connect()));
            NbdBlockStatus st = await(c.blockStatus(0, MI, 0));
            NbdExtentList l = st.extentList("base:allocation");
            assertEquals(MI, l.size());
            assertEquals(MI, l.end());
            long[] sum = {0, 0};
            l.forEachExtent((off, len, flags) -> {
                assertEquals(sum[0], off);
                assertEquals(1, len);
                assertEquals(off & 1, flags);
                sum[0] += len;
                sum[1]++;
            });
            assertEquals(MI, sum[1]);
            // The List view and the indexed accessors agree with the wire.
            assertEquals(new NbdExtent(MI - 1, 1, 1), st.extents("base:allocation").get(MI - 1));
            assertEquals(12345, l.offset(12345));
            assertEquals(new NbdExtent(3, 1, 1), l.get(3));
            assertEquals(NbdState.READY, h.state());
            h.close();
            s.awaitScript();
        }
    }

    @Test
    void aChunkWithMoreExtentsThanTheLimitFailsOnItsHeader() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true, BASE, MI, ScriptedServer.DEFAULT_TX_FLAGS);
            Req r = p.readRequest();
            p.send(oneByteExtents(r.cookie(), 1001));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(base().maxBlockStatusExtents(1000).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            NbdProtocolException e = fails(NbdProtocolException.class, c.blockStatus(0, MI, 0));
            assertTrue(e.getMessage().contains("1001 extents exceeds the limit of 1000"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void chunksOfSeveralContextsThatAddUpPastTheLimitFailTheReply() throws Exception {
        Map<String, Integer> two = new java.util.LinkedHashMap<>();
        two.put("base:allocation", 7);
        two.put("qemu:allocation-depth", 8);
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true, two, MI, ScriptedServer.DEFAULT_TX_FLAGS);
            Req r = p.readRequest();
            long[] pairs = new long[2 * 600];
            for (int i = 0; i < 600; i++) {
                pairs[2 * i] = 1;
            }
            p.send(new NbdBlockStatusChunk(0, r.cookie(), 0, false, 7, pairs));
            p.send(new NbdBlockStatusChunk(DONE, r.cookie(), 0, false, 8, pairs));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().addMetaContext("base:allocation")
                .addMetaContext("qemu:allocation-depth").maxBlockStatusExtents(1000).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            NbdProtocolException e = fails(NbdProtocolException.class, c.blockStatus(0, MI, 0));
            assertTrue(e.getMessage().contains("more than 1000 extents"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    // ------------------------------------------------------------------------ extents past the export's end

    /** Records what the listener is told about extents cut at the end of the export. */
    private static final class CutListener implements NbdListener {
        final List<long[]> cuts = new ArrayList<>();

        @Override
        public synchronized void extentsBeyondEnd(String context, long offset, long end, long exportSize) {
            assertEquals("base:allocation", context);
            cuts.add(new long[] {offset, end, exportSize});
        }
    }

    private static NbdBlockStatus statusNearTheEnd(NbdClientConfig config, long offset, long length, long... pairs)
            throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true, BASE, MI, ScriptedServer.DEFAULT_TX_FLAGS);
            Req r = p.readRequest();
            assertEquals(offset, r.offset());
            p.send(chunk(DONE, r.cookie(), pairs));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(config)) {
            NbdConnection c = await(h.connect(s.connect()));
            CompletableFuture<NbdBlockStatus> f = c.blockStatus(offset, length, 0);
            try {
                return await(f);
            } finally {
                h.close();
                s.awaitScript();
            }
        }
    }

    @Test
    void aLastExtentPastTheEndOfTheExportIsCutThereAndReported() throws Exception {
        CutListener l = new CutListener();
        // Request the last 4 KiB; the server describes 4 KiB of data then 8 KiB of hole, 8 KiB past the end.
        NbdBlockStatus st = statusNearTheEnd(base().listener(l).build(), MI - 4096, 4096, 2048, 0, 2048 + 8192, 3);
        assertEquals(List.of(new NbdExtent(MI - 4096, 2048, 0), new NbdExtent(MI - 2048, 2048, 3)),
                st.extents("base:allocation"));
        assertEquals(MI, st.extentList("base:allocation").end());
        assertEquals(1, l.cuts.size());
        assertArrayEquals(new long[] {MI - 4096, MI + 8192, MI}, l.cuts.get(0));
    }

    @Test
    void anExtentThatStartsAtTheEndOfTheExportIsDropped() throws Exception {
        CutListener l = new CutListener();
        // Only a request that itself runs past the end (BOUNDS off) can get extents that start there: within the
        // request, so not a protocol error, but they describe nothing and are dropped.
        NbdBlockStatus st = statusNearTheEnd(base().strictMode(NbdStrict.ALL & ~NbdStrict.BOUNDS).listener(l)
                .build(), MI - 4096, 8192, 4096, 0, 2048, 1, 4096, 0);
        assertEquals(List.of(new NbdExtent(MI - 4096, 4096, 0)), st.extents("base:allocation"));
        assertEquals(1, l.cuts.size());
        assertArrayEquals(new long[] {MI - 4096, MI + 6144, MI}, l.cuts.get(0));
    }

    @Test
    void anExtentEndingExactlyAtTheEndOfTheExportIsNotReported() throws Exception {
        CutListener l = new CutListener();
        NbdBlockStatus st = statusNearTheEnd(base().listener(l).build(), MI - 4096, 1024, 4096, 0);
        assertEquals(List.of(new NbdExtent(MI - 4096, 4096, 0)), st.extents("base:allocation"));
        assertTrue(l.cuts.isEmpty());
    }

    @Test
    void inStrictModeAnExtentPastTheEndOfTheExportIsAProtocolError() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true, BASE, MI, ScriptedServer.DEFAULT_TX_FLAGS);
            Req r = p.readRequest();
            p.send(chunk(DONE, r.cookie(), 8192, 0));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(base().strictMode(NbdStrict.ALL | NbdStrict.EXTENTS).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            NbdProtocolException e = fails(NbdProtocolException.class, c.blockStatus(MI - 4096, 4096, 0));
            assertTrue(e.getMessage().contains("past the end of the export (1048576 bytes)"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void aZeroLengthExtentIsAProtocolErrorEvenAtTheEnd() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true, BASE, MI, ScriptedServer.DEFAULT_TX_FLAGS);
            Req r = p.readRequest();
            p.send(chunk(DONE, r.cookie(), 4096, 0, 0, 1));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(base().build())) {
            NbdConnection c = await(h.connect(s.connect()));
            NbdProtocolException e = fails(NbdProtocolException.class, c.blockStatus(MI - 8192, 8192, 0));
            assertTrue(e.getMessage().contains("length 0"), e.getMessage());
            assertDead(h);
            s.awaitScript();
        }
    }

    // ------------------------------------------------------------------------------------ a stalled server

    @Test
    void aServerThatStopsInTheMiddleOfAReplyFailsTheConnectionAfterTheStallTimeout() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true);
            Req r = p.readRequest();
            // Half of an OFFSET_DATA chunk, then silence with the connection left open.
            p.sendTruncated(new NbdOffsetDataChunk(DONE, r.cookie(), 0, r.offset(),
                    Unpooled.wrappedBuffer(new byte[(int) r.length()])), (int) r.length() / 2);
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().stallTimeout(Duration.ofSeconds(1)).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            long t0 = System.nanoTime();
            NbdTimeoutException e = fails(NbdTimeoutException.class, c.read(0, 4096));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(e.getMessage().startsWith("no reply from the server for 1 s"), e.getMessage());
            assertTrue(ms >= 900 && ms < 8000, "took " + ms + " ms");
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void aSlowButSteadyReplyAndAnIdleConnectionDoNotTripTheStallTimeout() throws Exception {
        byte[] data = new byte[64];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) i;
        }
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(false);
            Req r = p.readRequest();
            // A simple reply trickled over about 2.4 s, a byte every 30 ms: longer than the timeout in all, but
            // never silent for as long as it.
            java.nio.ByteBuffer reply = java.nio.ByteBuffer.allocate(16 + 64);
            reply.putInt(0x67446698).putInt(0).putLong(r.cookie()).put(data);
            for (byte b : reply.array()) {
                p.sendRaw(new byte[] {b});
                Thread.sleep(30);
            }
            // Then idle for longer than the timeout with nothing asked: the connection must stay up.
            Req r2 = p.readRequest();
            p.send(new NbdSimpleReply(r2.cookie(), NbdErrno.OK));
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder()
                .stallTimeout(Duration.ofMillis(600)).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            assertArrayEquals(data, TestSupport.bytes(await(c.read(0, 64))));
            Thread.sleep(1500);
            assertEquals(NbdState.READY, h.state());
            await(c.flush());
            assertEquals(NbdState.READY, h.state());
            h.close();
            s.awaitScript();
        }
    }

    // ------------------------------------------------------------------------------ a reply that never ends

    @Test
    void aReplyOfErrorChunksWithoutDoneFailsPastTheBound() throws Exception {
        int[] sent = {0};
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true);
            Req r = p.readRequest();
            try {
                while (true) {
                    p.send(new NbdErrorChunk(0, NbdReplyType.ERROR, r.cookie(), 0, NbdErrno.EIO, "again", 0));
                    sent[0]++;
                }
            } catch (IOException e) {
                // the client hung up: the point
            }
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().build())) {
            NbdConnection c = await(h.connect(s.connect()));
            NbdProtocolException e = fails(NbdProtocolException.class, c.flush());
            assertTrue(e.getMessage().contains("more than " + NbdConnection.MAX_ERROR_CHUNKS + " error chunks"),
                    e.getMessage());
            assertDead(h);
            s.awaitScript();
            assertTrue(sent[0] > NbdConnection.MAX_ERROR_CHUNKS, "sent " + sent[0]);
        }
    }

    @Test
    void aReadMayHaveAnErrorChunkPerSectorWithinTheBound() throws Exception {
        // 64 KiB READ: 1,024 + 128 error chunks allowed; the server sends 1,100 of them, then DONE.
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true);
            Req r = p.readRequest();
            for (int i = 0; i < 1100; i++) {
                p.send(new NbdErrorChunk(i == 1099 ? DONE : 0, NbdReplyType.ERROR_OFFSET, r.cookie(), 0,
                        NbdErrno.EIO, "", r.offset() + i));
            }
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().build())) {
            NbdConnection c = await(h.connect(s.connect()));
            NbdCommandException e = fails(NbdCommandException.class, c.read(0, 65536));
            assertEquals(NbdErrno.EIO, e.error());
            assertEquals(0, e.errorOffset());
            assertEquals(NbdState.READY, h.state());
            h.close();
            s.awaitScript();
        }
    }

    // --------------------------------------------------------------------------------------- huge strings

    @Test
    void anErrorMessageOf65535BytesIsShownAt4096() throws Exception {
        String huge = "x".repeat(65535);
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true);
            Req r = p.readRequest();
            // By hand: our encoder refuses messages over the protocol's 4,096 bytes. proto.md, "Structured reply
            // chunk message types": NBD_REPLY_TYPE_ERROR (2^15 + 1), error (32 bits), message length (16 bits).
            java.nio.ByteBuffer chunk = java.nio.ByteBuffer.allocate(20 + 6 + 65535);
            chunk.putInt(0x668e33ef).putShort((short) DONE).putShort((short) 32769).putLong(r.cookie())
                    .putInt(6 + 65535).putInt(5).putShort((short) 65535).put(huge.getBytes(StandardCharsets.UTF_8));
            p.sendRaw(chunk.array());
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().build())) {
            NbdConnection c = await(h.connect(s.connect()));
            NbdCommandException e = fails(NbdCommandException.class, c.flush());
            assertEquals(huge, e.serverMessage());
            String m = e.getMessage();
            assertTrue(m.endsWith("x..."), m.substring(0, 80));
            String shown = m.substring(m.indexOf(": x") + 2);
            assertEquals(NbdStrings.MAX_SHOWN_BYTES, shown.getBytes(StandardCharsets.UTF_8).length);
            assertEquals(NbdState.READY, h.state());
            h.close();
            s.awaitScript();
        }
    }

    @Test
    void anOptionErrorMessageOf60KiBIsShownAt4096() throws Exception {
        String huge = "z".repeat(60 * 1024); // within maxOptionReplyLength (64 KiB), far over the protocol's 4,096
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.FIXED_NEWSTYLE | NbdHandshakeFlags.NO_ZEROES);
            p.readClientFlags();
            while (true) {
                ScriptedServer.Opt o = p.readOption();
                if (o.option().equals(NbdOption.GO)) {
                    // By hand (our encoder refuses such a string): proto.md, "Option reply": magic, option, reply
                    // type NBD_REP_ERR_UNKNOWN (2^31 + 6), length, then the message.
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(20 + huge.length());
                    b.putLong(0x3e889045565a9L).putInt(o.code()).putInt(0x80000006).putInt(huge.length())
                            .put(huge.getBytes(StandardCharsets.US_ASCII));
                    p.sendRaw(b.array());
                    break;
                }
                p.refuse(o);
            }
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().build())) {
            NbdOptionException e = fails(NbdOptionException.class, h.connect(s.connect()));
            assertEquals(huge, e.serverMessage());
            String m = e.getMessage();
            assertTrue(m.endsWith("z..."), m.substring(0, 80));
            assertEquals(NbdStrings.MAX_SHOWN_BYTES - 3, m.length() - m.replace("z", "").length());
            assertDead(h);
            s.awaitScript();
        }
    }

    @Test
    void shownStringsAreCutAtACharacterBoundary() {
        assertEquals("short", NbdStrings.shown("short"));
        String exact = "é".repeat(2048); // 4096 bytes: shown whole
        assertEquals(exact, NbdStrings.shown(exact));
        String over = "é".repeat(2049); // 4098 bytes
        String s = NbdStrings.shown(over);
        assertTrue(s.endsWith("..."));
        assertEquals("é".repeat(2046) + "...", s); // 4092 + 3 bytes; a 2-byte character is never split
        String emoji = "\uD83D\uDE00".repeat(1100); // 4 bytes each, 4400 bytes
        String e = NbdStrings.shown(emoji);
        assertEquals("\uD83D\uDE00".repeat(1023) + "...", e);
        assertEquals(null, NbdStrings.shown(null));
    }
}
