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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Replays every transcript captured from real peers (nbdkit 1.32, qemu-nbd 7.2, nbd-server 3.24 talking to libnbd 1.14
 * clients, see {@code golden/README.md}) through our decoders, both directions, in the order the bytes travelled:
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
            for (Path p : files.filter(f -> f.getFileName().toString().matches("(nbdkit|qemu-nbd|nbd-server)-.*\\.txt"))
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
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("transcripts")
    void everyByteDecodesAndRepliesMatchRequests(Transcript t) {
        Replay r = replay(t);
        // Every reply refers to a request the client made.
        for (Long cookie : r.done.keySet()) {
            assertNotNull(r.requests.get(cookie), t + ": reply for cookie " + cookie + " without a request");
        }
        for (Map.Entry<Long, Integer> e : r.readData.entrySet()) {
            NbdRequest req = r.requests.get(e.getKey());
            assertEquals(NbdCommandType.READ, req.type());
            assertEquals(req.length(), (long) e.getValue(), t + ": READ data length for cookie " + e.getKey());
        }
        // Every request but DISC got a complete reply.
        for (NbdRequest req : r.requests.values()) {
            if (!req.type().equals(NbdCommandType.DISC)) {
                assertTrue(r.done.containsKey(req.cookie()), t + ": no reply for " + req);
            }
        }
        assertFalse(r.serverMessages.isEmpty());
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
                            toRequests(fromClient);
                        } else if (m instanceof NbdRequest req) {
                            r.requests.put(req.cookie(), req);
                            req.release();
                        }
                    }
                } else {
                    fromServer.writeInbound(bytes);
                    for (Object m; (m = fromServer.readInbound()) != null; ) {
                        r.serverMessages.add(m);
                        if (m instanceof NbdNewstyleGreeting g) {
                            serverFlags = g.handshakeFlags();
                        } else if (m instanceof NbdOldstyleGreeting || m instanceof NbdExportNameReply
                                || m instanceof NbdAckReply a && a.option().equals(NbdOption.GO)) {
                            toReplies(fromServer, r);
                            toRequests(fromClient);
                        } else if (m instanceof NbdSimpleReply s) {
                            r.done.put(s.cookie(), 1);
                            if (s.data().isReadable()) {
                                r.readData.put(s.cookie(), s.data().readableBytes());
                            }
                        } else if (m instanceof NbdReplyChunk c) {
                            if (c instanceof NbdOffsetDataChunk d) {
                                r.readData.merge(c.cookie(), d.data().readableBytes(), Integer::sum);
                            } else if (c instanceof NbdOffsetHoleChunk h) {
                                r.readData.merge(c.cookie(), h.holeSize(), Integer::sum);
                            }
                            if (c.isDone()) {
                                r.done.put(c.cookie(), 1);
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
    private static void toRequests(EmbeddedChannel fromClient) {
        ChannelHandler first = fromClient.pipeline().first();
        if (first instanceof NbdServerHandshakeDecoder) {
            fromClient.pipeline().replace(first, "requests",
                    new NbdRequestDecoder(false, NbdRequestDecoder.DEFAULT_MAX_PAYLOAD_LENGTH));
        }
    }

    /** Server bytes from here on are replies (any bytes already received are handed over). */
    private static void toReplies(EmbeddedChannel fromServer, Replay r) {
        ChannelHandler first = fromServer.pipeline().first();
        if (first instanceof NbdClientHandshakeDecoder) {
            fromServer.pipeline().replace(first, "replies", new NbdReplyDecoder(false, cookie -> {
                NbdRequest req = r.requests.get(cookie);
                return req == null ? -1 : req.type().equals(NbdCommandType.READ) ? req.length() : 0;
            }, NbdReplyDecoder.DEFAULT_MAX_PAYLOAD_LENGTH));
        }
    }
}
