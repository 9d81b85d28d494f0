package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Replays every transcript captured from real peers (nbdkit 1.32, qemu-nbd 7.2, nbd-server 3.24 talking to libnbd 1.14
 * clients; qemu 10 in extended headers with nbd-netty on the other side, see {@code golden/README.md}) through our
 * decoders, both directions, in the order the bytes travelled:
 * the client's bytes through the server-side decoders and the server's bytes through the client-side ones, switching
 * to the transmission decoders where the real handshake ended. Every byte must decode, every reply must match a
 * request by cookie, and READ data must have the length asked for.
 */
class PeerTranscriptReplayTest {
    private static final Path DIR = Path.of("src/test/resources/golden");

    record Transcript(String name, List<String[]> records) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Transcript> transcripts() throws IOException {
        try (Stream<Path> files = Files.list(DIR)) {
            List<Transcript> all = new ArrayList<>();
            for (Path p : files.filter(f -> f.getFileName().toString()
                    .matches("(nbdkit|qemu-nbd|qemu10|nbd-server)-.*\\.txt"))
                    .sorted().toList()) {
                List<String[]> records = new ArrayList<>();
                for (String line : Files.readAllLines(p, StandardCharsets.UTF_8)) {
                    if (line.startsWith("C ") || line.startsWith("S ")) {
                        records.add(new String[] {line.substring(0, 1), line.substring(2).trim()});
                    }
                }
                all.add(new Transcript(p.getFileName().toString(), records));
            }
            assertTrue(all.size() >= 20, "transcripts found: " + all.size());
            return all.stream();
        }
    }

    /** What the replay saw, for the per-transcript checks. */
    static final class Replay {
        final List<Object> clientMessages = new ArrayList<>();
        final List<Object> serverMessages = new ArrayList<>();
        final Map<Long, NbdRequest> requests = new HashMap<>();
        final Map<Long, Integer> readData = new HashMap<>();
        final Map<Long, Integer> done = new HashMap<>();
        /** The requests in the order the client sent them (their payloads released). */
        final List<NbdRequest> requestOrder = new ArrayList<>();
        /** WRITE payloads, by cookie (copied out before the request is released). */
        final Map<Long, byte[]> writeData = new HashMap<>();
        /** The requests whose reply is complete (by identity: clients such as qemu reuse cookies). */
        final Set<NbdRequest> answered = Collections.newSetFromMap(new IdentityHashMap<>());

        /**
         * A reply for {@code cookie} is complete: it answers the latest request with that cookie (a client may reuse
         * a cookie only once its reply is in), and a READ got exactly the bytes it asked for.
         */
        void complete(String t, long cookie) {
            NbdRequest req = requests.get(cookie);
            assertNotNull(req, t + ": reply for cookie " + cookie + " without a request");
            Integer got = readData.remove(cookie);
            if (got != null) {
                assertEquals(NbdCommandType.READ, req.type(), t + ": data for " + req);
                assertEquals(req.length(), (long) got, t + ": READ data length for cookie " + cookie);
            }
            answered.add(req);
            done.put(cookie, 1);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("transcripts")
    void everyByteDecodesAndRepliesMatchRequests(Transcript t) {
        Replay r = replay(t);
        // Every reply matched a request and READs got their length (checked as each reply completed); no data is
        // left over for a reply that never completed, and every request but DISC got a complete reply.
        assertTrue(r.readData.isEmpty(), t + ": READ data without a complete reply: " + r.readData);
        for (NbdRequest req : r.requestOrder) {
            if (!req.type().equals(NbdCommandType.DISC)) {
                assertTrue(r.answered.contains(req), t + ": no reply for " + req);
            }
        }
        assertFalse(r.serverMessages.isEmpty());
        releaseAll(r);
    }

    @Test
    void nbdkitStructuredReadCarriesThePrefilledBytes() throws IOException {
        Transcript t = transcripts().filter(x -> x.name.equals("nbdkit-memory-rw-structured.txt")).findFirst()
                .orElseThrow();
        Replay r = replay(t);
        NbdOffsetDataChunk first = (NbdOffsetDataChunk) r.serverMessages.stream()
                .filter(NbdOffsetDataChunk.class::isInstance).findFirst().orElseThrow();
        assertEquals(0, first.offset());
        // nbdkit never splits a read: one chunk of 4096 bytes with DONE, starting with the prefill "GOLDEN00".
        assertTrue(first.isDone());
        assertEquals(4096, first.data().readableBytes());
        assertEquals("GOLDEN00", first.data().toString(0, 8, StandardCharsets.US_ASCII));
        releaseAll(r);
    }

    @Test
    void qemuNbdGrantsContextIdZeroAndSendsBlockSizes() throws IOException {
        Transcript t = transcripts().filter(x -> x.name.equals("qemu-nbd-nbdinfo-map-dirty-bitmap.txt"))
                .findFirst().orElseThrow();
        Replay r = replay(t);
        List<NbdMetaContextReply> contexts = r.serverMessages.stream().filter(NbdMetaContextReply.class::isInstance)
                .map(NbdMetaContextReply.class::cast).toList();
        assertTrue(contexts.stream().anyMatch(c -> c.name().equals("qemu:dirty-bitmap:b0")), contexts.toString());
        assertTrue(r.serverMessages.stream().anyMatch(m -> m instanceof NbdBlockStatusChunk b
                && contexts.stream().anyMatch(c -> c.contextId() == b.contextId())));
        releaseAll(r);
    }

    @Test
    void nbdkitErrorFilterSendsAStructuredErrorChunk() throws IOException {
        Transcript t = transcripts().filter(x -> x.name.equals("nbdkit-error-structured.txt")).findFirst()
                .orElseThrow();
        Replay r = replay(t);
        NbdErrorChunk e = (NbdErrorChunk) r.serverMessages.stream().filter(NbdErrorChunk.class::isInstance)
                .findFirst().orElseThrow();
        assertEquals(NbdReplyType.ERROR, e.type());
        assertEquals(NbdErrno.EIO, e.error());
        releaseAll(r);
    }

    private static Transcript named(String name) throws IOException {
        return transcripts().filter(x -> x.name.equals(name)).findFirst().orElseThrow();
    }

    @Test
    void qemu10ClientSendsExtendedWritesWithoutThePayloadFlag() throws IOException {
        // qemu-io 10 against nbd-netty's server: only the client's bytes are golden here. After
        // NBD_OPT_EXTENDED_HEADERS every request has the 32-byte header, and WRITE comes with FUA but without
        // NBD_CMD_FLAG_PAYLOAD_LEN, its 4096 bytes of 0x5a following all the same (qemu-io -c 'write -P 0x5a 0 4k').
        Replay r = replay(named("qemu10-io-nbd-serve.txt"));
        assertTrue(r.clientMessages.contains(NbdBareOption.EXTENDED_HEADERS), r.clientMessages.toString());
        assertEquals(List.of(NbdCommandType.WRITE, NbdCommandType.WRITE_ZEROES, NbdCommandType.TRIM,
                NbdCommandType.FLUSH, NbdCommandType.READ, NbdCommandType.READ, NbdCommandType.FLUSH,
                NbdCommandType.DISC), r.requestOrder.stream().map(NbdRequest::type).toList());
        NbdRequest write = r.requestOrder.get(0);
        assertEquals(NbdCommandFlags.FUA, write.flags(), NbdCommandFlags.toString(write.flags()));
        assertEquals(4096, write.length());
        byte[] data = r.writeData.get(write.cookie());
        assertEquals(4096, data.length);
        for (byte b : data) {
            assertEquals(0x5a, b & 0xff);
        }
        NbdRequest zeroes = r.requestOrder.get(1);
        assertEquals(65536, zeroes.offset());
        assertEquals(65536, zeroes.length());
        assertEquals(NbdCommandFlags.FUA | NbdCommandFlags.NO_HOLE, zeroes.flags());
        releaseAll(r);
    }

    @Test
    void qemuNbd10SendsExtentsLongerThan32Bits() throws IOException {
        // qemu-nbd 10 serving a 6 GiB qcow2 with 64 KiB written at 5 GiB, asked for base:allocation over the whole
        // export by nbd-netty's client (scripts/ExtentsMap.java): the block status chunk is
        // NBD_REPLY_TYPE_BLOCK_STATUS_EXT, and its first extent, the hole below 5 GiB, is 5 GiB long, more than a
        // 32-bit extent can say.
        Replay r = replay(named("qemu10-nbd-map.txt"));
        NbdBlockStatusChunk bs = (NbdBlockStatusChunk) r.serverMessages.stream()
                .filter(NbdBlockStatusChunk.class::isInstance).findFirst().orElseThrow();
        assertTrue(bs.isExtended());
        assertEquals(NbdReplyType.BLOCK_STATUS_EXT, bs.type());
        assertEquals(5L << 30, bs.extentLength(0));
        assertEquals(NbdStateFlags.HOLE | NbdStateFlags.ZERO, bs.extentStatus(0));
        assertEquals(64 << 10, bs.extentLength(1));
        assertEquals(0, bs.extentStatus(1));
        releaseAll(r);
    }

    @Test
    void qemuNbd10MarksTheDirtyRangeBeyond4Gib() throws IOException {
        Replay r = replay(named("qemu10-nbd-map-dirty-bitmap.txt"));
        NbdBlockStatusChunk bs = (NbdBlockStatusChunk) r.serverMessages.stream()
                .filter(NbdBlockStatusChunk.class::isInstance).findFirst().orElseThrow();
        List<NbdMetaContextReply> contexts = r.serverMessages.stream().filter(NbdMetaContextReply.class::isInstance)
                .map(NbdMetaContextReply.class::cast).toList();
        assertTrue(contexts.stream().anyMatch(c -> c.name().equals("qemu:dirty-bitmap:b0")
                && c.contextId() == bs.contextId()), contexts.toString());
        assertEquals(5L << 30, bs.extentLength(0));
        assertEquals(0, bs.extentStatus(0));
        assertEquals(64 << 10, bs.extentLength(1));
        assertEquals(1, bs.extentStatus(1), "NBD_STATE_DIRTY");
        releaseAll(r);
    }

    @Test
    void oldstyleGreetingFromNbdkit() throws IOException {
        Transcript t = transcripts().filter(x -> x.name.equals("nbdkit-oldstyle-read.txt")).findFirst()
                .orElseThrow();
        Replay r = replay(t);
        NbdOldstyleGreeting g = assertInstanceOf(NbdOldstyleGreeting.class, r.serverMessages.get(0));
        assertEquals(1L << 20, g.exportSize());
        assertTrue((g.transmissionFlags() & NbdTransmissionFlags.HAS_FLAGS) != 0);
        releaseAll(r);
    }

    private static void releaseAll(Replay r) {
        r.serverMessages.forEach(ReferenceCountUtil::release);
    }

    private static Replay replay(Transcript t) {
        Replay r = new Replay();
        NbdClientHandshakeDecoder clientHs = new NbdClientHandshakeDecoder();
        EmbeddedChannel fromServer = new EmbeddedChannel(clientHs);
        EmbeddedChannel fromClient = new EmbeddedChannel(new NbdServerHandshakeDecoder());
        int serverFlags = 0;
        int clientFlags = 0;
        // Whether the server acknowledged NBD_OPT_EXTENDED_HEADERS: then both directions use 32-byte headers.
        boolean extended = false;
        try {
            for (String[] rec : t.records()) {
                ByteBuf bytes = Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(rec[1]));
                if (rec[0].equals("C")) {
                    fromClient.writeInbound(bytes);
                    for (Object m; (m = fromClient.readInbound()) != null; ) {
                        r.clientMessages.add(m);
                        if (m instanceof NbdClientFlagsMessage f) {
                            clientFlags = f.clientFlags();
                        } else if (m instanceof NbdExportNameOption) {
                            // The server answers with the export name reply and transmission begins.
                            clientHs.expectExportNameReply((serverFlags & clientFlags & NbdHandshakeFlags.NO_ZEROES)
                                    == 0);
                            toRequests(fromClient, extended);
                        } else if (m instanceof NbdRequest req) {
                            r.requests.put(req.cookie(), req);
                            r.requestOrder.add(req);
                            if (req.type().equals(NbdCommandType.WRITE)) {
                                r.writeData.put(req.cookie(), ByteBufUtil.getBytes(req.payload()));
                            }
                            req.release();
                        }
                    }
                } else {
                    fromServer.writeInbound(bytes);
                    for (Object m; (m = fromServer.readInbound()) != null; ) {
                        r.serverMessages.add(m);
                        if (m instanceof NbdNewstyleGreeting g) {
                            serverFlags = g.handshakeFlags();
                        } else if (m instanceof NbdAckReply a && a.option().equals(NbdOption.EXTENDED_HEADERS)) {
                            extended = true;
                        } else if (m instanceof NbdOldstyleGreeting || m instanceof NbdExportNameReply
                                || m instanceof NbdAckReply a && a.option().equals(NbdOption.GO)) {
                            toReplies(fromServer, r, extended);
                            toRequests(fromClient, extended);
                        } else if (m instanceof NbdSimpleReply s) {
                            if (s.data().isReadable()) {
                                r.readData.put(s.cookie(), s.data().readableBytes());
                            }
                            r.complete(t.name(), s.cookie());
                        } else if (m instanceof NbdReplyChunk c) {
                            if (c instanceof NbdOffsetDataChunk d) {
                                r.readData.merge(c.cookie(), d.data().readableBytes(), Integer::sum);
                            } else if (c instanceof NbdOffsetHoleChunk h) {
                                r.readData.merge(c.cookie(), h.holeSize(), Integer::sum);
                            }
                            if (c.isDone()) {
                                r.complete(t.name(), c.cookie());
                            }
                        }
                    }
                }
            }
            // Nothing may be left half-decoded in either direction.
            assertFalse(fromServer.finish(), t + ": undecoded server bytes");
            assertFalse(fromClient.finish(), t + ": undecoded client bytes");
        } catch (NbdDecoderException e) {
            fail(t + ": " + e.getMessage(), e);
        } finally {
            fromServer.finishAndReleaseAll();
            fromClient.finishAndReleaseAll();
        }
        return r;
    }

    /** Client bytes from here on are requests. */
    private static void toRequests(EmbeddedChannel fromClient, boolean extended) {
        ChannelHandler first = fromClient.pipeline().first();
        if (first instanceof NbdServerHandshakeDecoder) {
            fromClient.pipeline().replace(first, "requests",
                    new NbdRequestDecoder(extended, NbdRequestDecoder.DEFAULT_MAX_PAYLOAD_LENGTH));
        }
    }

    /** Server bytes from here on are replies (any bytes already received are handed over). */
    private static void toReplies(EmbeddedChannel fromServer, Replay r, boolean extended) {
        ChannelHandler first = fromServer.pipeline().first();
        if (first instanceof NbdClientHandshakeDecoder) {
            fromServer.pipeline().replace(first, "replies", new NbdReplyDecoder(extended, cookie -> {
                NbdRequest req = r.requests.get(cookie);
                return req == null ? -1 : req.type().equals(NbdCommandType.READ) ? req.length() : 0;
            }, NbdReplyDecoder.DEFAULT_MAX_PAYLOAD_LENGTH));
        }
    }
}
