package io.nbdnetty.examples.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdExtent;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdReplyStyle;
import io.nbdnetty.codec.NbdAckReply;
import io.nbdnetty.codec.NbdBareOption;
import io.nbdnetty.codec.NbdBlockStatusChunk;
import io.nbdnetty.codec.NbdClientFlags;
import io.nbdnetty.codec.NbdClientFlagsMessage;
import io.nbdnetty.codec.NbdConstants;
import io.nbdnetty.codec.NbdErrno;
import io.nbdnetty.codec.NbdErrorChunk;
import io.nbdnetty.codec.NbdExportInfoOption;
import io.nbdnetty.codec.NbdInfo;
import io.nbdnetty.codec.NbdInfoReply;
import io.nbdnetty.codec.NbdMetaContextOption;
import io.nbdnetty.codec.NbdMetaContextReply;
import io.nbdnetty.codec.NbdNewstyleGreeting;
import io.nbdnetty.codec.NbdNoneChunk;
import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdStateFlags;
import io.nbdnetty.codec.NbdTransmissionFlags;
import io.nbdnetty.testing.peers.PeerClients;
import io.netty.buffer.Unpooled;
import io.netty.channel.unix.DomainSocketAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The example server's side of filtered block status (proto-extended-headers.md, "NBD_CMD_BLOCK_STATUS": with
 * NBD_FLAG_BLOCK_STATUS_PAYLOAD advertised, a request with NBD_CMD_FLAG_PAYLOAD_LEN carries "C: 64 bits, effect
 * length; C: n * 32 bits, list of metacontext ids to use"; for "duplicate or unknown metacontext ids in the client's
 * payload, the server MUST gracefully consume the client's payload before failing with NBD_EINVAL").
 *
 * <p>No independent client sends filtered block status to test it with: qemu's NBD client negotiates at most one
 * context and never sets NBD_CMD_FLAG_PAYLOAD_LEN on block status (its block/nbd.c keeps one context id), and
 * libnbd's {@code block_status_filter} postdates the nbdinfo/nbdsh installed here. So the requests below are golden
 * bytes written from the spec text, sent over a real socket, plus our own client. The server offers two contexts,
 * base:allocation and qemu:allocation-depth, so a filter has something to leave out.
 */
class NbdServerBlockStatusFilterTest {
    private static final long SIZE = 1 << 20;
    private static final String ALLOCATION = NbdMetaContext.BASE_ALLOCATION;
    private static final String DEPTH = NbdMetaContext.QEMU_ALLOCATION_DEPTH;
    private static final long HOLE = NbdStateFlags.HOLE | NbdStateFlags.ZERO;

    @TempDir
    Path dir;

    private NbdServer server;
    private RawNbdClient raw;

    @AfterEach
    void tearDown() {
        if (raw != null) {
            raw.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private Path start() throws Exception {
        MemoryExport export = new MemoryExport(SIZE);
        server = NbdServer.builder().export("", export).build();
        Path socket = dir.resolve("s.sock");
        server.bind(new DomainSocketAddress(socket.toString()));
        // 64 KiB of data at 64 KiB; the rest stays a hole.
        NbdClientConfig cfg = NbdClientConfig.builder().addMetaContext(NbdMetaContext.BASE_ALLOCATION).build();
        try (NbdHandle h = NbdHandle.create(cfg)) {
            NbdConnection c = h.connectUnix(socket).get(30, TimeUnit.SECONDS);
            c.write(64 << 10, Unpooled.wrappedBuffer(new byte[64 << 10]).writerIndex(64 << 10)
                    .setByte(0, 1)).get(30, TimeUnit.SECONDS);
            c.disconnect().get(30, TimeUnit.SECONDS);
        }
        return socket;
    }

    /**
     * Negotiates extended headers and base:allocation (id 1) and qemu:allocation-depth (id 2), the ids the golden
     * bytes use; returns the transmission flags from NBD_OPT_GO.
     */
    private int goExtended(Path socket) throws Exception {
        raw = new RawNbdClient(socket);
        raw.next(NbdNewstyleGreeting.class);
        raw.send(new NbdClientFlagsMessage(NbdClientFlags.FIXED_NEWSTYLE | NbdClientFlags.NO_ZEROES));
        raw.send(NbdBareOption.EXTENDED_HEADERS);
        raw.next(NbdAckReply.class);
        raw.send(new NbdMetaContextOption(NbdOption.SET_META_CONTEXT, "", List.of(ALLOCATION, DEPTH)));
        NbdMetaContextReply first = raw.next(NbdMetaContextReply.class);
        assertEquals(List.of(1, ALLOCATION), List.of(first.contextId(), first.name()));
        NbdMetaContextReply second = raw.next(NbdMetaContextReply.class);
        assertEquals(List.of(2, DEPTH), List.of(second.contextId(), second.name()));
        raw.next(NbdAckReply.class);
        raw.send(new NbdExportInfoOption(NbdOption.GO, "", List.of()));
        int flags = -1;
        for (Object o; !((o = raw.next()) instanceof NbdAckReply); ) {
            if (((NbdInfoReply) o).info() instanceof NbdInfo.Export e) {
                flags = e.transmissionFlags();
            }
        }
        raw.startTransmission(true, cookie -> -1);
        return flags;
    }

    private void sendHex(String hex) {
        raw.send(Unpooled.wrappedBuffer(HexFormat.of().parseHex(hex.replace(" ", "").replace("|", ""))));
    }

    private NbdErrorChunk einval(long cookie) throws InterruptedException {
        NbdErrorChunk e = raw.next(NbdErrorChunk.class);
        assertEquals(cookie, e.cookie());
        assertEquals(NbdErrno.EINVAL, e.error(), e.toString());
        assertTrue(e.isDone());
        return e;
    }

    @Test
    void goldenFilteredRequestsAreAnsweredOrRefusedWithEinval() throws Exception {
        int flags = goExtended(start());
        assertTrue((flags & NbdTransmissionFlags.BLOCK_STATUS_PAYLOAD) != 0, NbdTransmissionFlags.toString(flags));

        // Unfiltered (flags 0, length 128 KiB): a chunk for each context, the last one DONE.
        sendHex("21e41c71 | 0000 | 0007 | 0000000000000010 | 0000000000000000 | 0000000000020000");
        NbdBlockStatusChunk a = raw.next(NbdBlockStatusChunk.class);
        NbdBlockStatusChunk d = raw.next(NbdBlockStatusChunk.class);
        assertEquals(List.of(1, 2), List.of(a.contextId(), d.contextId()));
        assertTrue(!a.isDone() && d.isDone());
        assertArrayEquals(new long[] {64 << 10, HOLE, 64 << 10, 0}, a.extents());
        assertArrayEquals(new long[] {64 << 10, 0, 64 << 10, 1}, d.extents(), "depth 0 unallocated, 1 here");

        // Extended request: magic 21e41c71, flags 0020 (PAYLOAD_LEN), type 0007, cookie 1, offset 0, length 12 (the
        // payload's), then effect length 128 KiB and context id 2: only qemu:allocation-depth comes back.
        sendHex("21e41c71 | 0020 | 0007 | 0000000000000001 | 0000000000000000 | 000000000000000c"
                + " | 0000000000020000 | 00000002");
        NbdBlockStatusChunk bs = raw.next(NbdBlockStatusChunk.class);
        assertEquals(1, bs.cookie());
        assertTrue(bs.isExtended() && bs.isDone(), "one chunk, the last");
        assertEquals(2, bs.contextId());
        assertArrayEquals(new long[] {64 << 10, 0, 64 << 10, 1}, bs.extents(),
                "the effect length came from the payload: 128 KiB described, not 12 bytes");
        // Only base:allocation (id 1).
        sendHex("21e41c71 | 0020 | 0007 | 0000000000000011 | 0000000000000000 | 000000000000000c"
                + " | 0000000000020000 | 00000001");
        bs = raw.next(NbdBlockStatusChunk.class);
        assertEquals(List.of(0x11L, 1), List.of(bs.cookie(), bs.contextId()));
        assertTrue(bs.isDone(), "one chunk, the last");
        assertArrayEquals(new long[] {64 << 10, HOLE, 64 << 10, 0}, bs.extents());

        // Unknown id 5: EINVAL, payload consumed.
        sendHex("21e41c71 | 0020 | 0007 | 0000000000000002 | 0000000000000000 | 000000000000000c"
                + " | 0000000000001000 | 00000005");
        assertTrue(einval(2).message().contains("unknown"));
        // The same id twice.
        sendHex("21e41c71 | 0020 | 0007 | 0000000000000003 | 0000000000000000 | 0000000000000010"
                + " | 0000000000001000 | 00000001 | 00000001");
        assertTrue(einval(3).message().contains("duplicate"));
        // No id at all (8 bytes: only the effect length).
        sendHex("21e41c71 | 0020 | 0007 | 0000000000000004 | 0000000000000000 | 0000000000000008"
                + " | 0000000000001000");
        einval(4);
        // A payload that is not 8 + 4n bytes (10).
        sendHex("21e41c71 | 0020 | 0007 | 0000000000000005 | 0000000000000000 | 000000000000000a"
                + " | 0000000000001000 | 0000");
        assertTrue(einval(5).message().contains("10 bytes"));

        // Every payload was consumed: the connection carries on with a plain FLUSH.
        sendHex("21e41c71 | 0000 | 0003 | 0000000000000006 | 0000000000000000 | 0000000000000000");
        assertEquals(6, raw.next(NbdNoneChunk.class).cookie());
    }

    /**
     * qemu 10's client (extended headers) reads the second context through its {@code x-dirty-bitmap} option, which
     * takes a context's bit 0 as NBD_STATE_HOLE ("HACK" in qemu's block/nbd.c): allocation depth 1 (the 64 KiB
     * written at 64 KiB) reads as absent, depth 0 as present. The extents must line up with the plain map's.
     */
    @Test
    void qemu10ReadsQemuAllocationDepthFromOurServer() throws Exception {
        Path socket = start();
        String plain = PeerClients.qemu10("qemu-img", "map", "--output=json", "-f", "raw",
                "nbd+unix:///?socket=" + socket).assertSuccess().stdout();
        String depth = PeerClients.qemu10("qemu-img", "map", "--output=json", "--image-opts",
                "driver=nbd,server.type=unix,server.path=" + socket + ",x-dirty-bitmap=" + DEPTH)
                .assertSuccess().stdout();
        ObjectMapper json = new ObjectMapper();
        JsonNode p = json.readTree(plain);
        JsonNode d = json.readTree(depth);
        assertEquals(3, p.size(), plain);
        assertEquals(3, d.size(), depth);
        long[] starts = {0, 64 << 10, 128 << 10};
        for (int i = 0; i < 3; i++) {
            assertEquals(starts[i], p.get(i).get("start").asLong(), plain);
            assertEquals(starts[i], d.get(i).get("start").asLong(), depth);
            assertEquals(p.get(i).get("length").asLong(), d.get(i).get("length").asLong(), depth);
            boolean allocated = i == 1;
            assertEquals(allocated, p.get(i).get("data").asBoolean(), plain);
            assertEquals(!allocated, d.get(i).get("present").asBoolean(), depth);
        }
    }

    @Test
    void ourClientFiltersAgainstOurServer() throws Exception {
        Path socket = start();
        try (NbdHandle h = NbdHandle.create(NbdClientConfig.builder().metaContexts(List.of(ALLOCATION, DEPTH))
                .build())) {
            NbdConnection c = h.connectUnix(socket).get(30, TimeUnit.SECONDS);
            assertEquals(NbdReplyStyle.EXTENDED, c.replyStyle());
            assertTrue(c.exportInfo().canBlockStatusPayload());
            assertEquals(2, c.metaContexts().size());
            long chunks = c.stats().chunksReceived();
            NbdBlockStatus all = c.blockStatus(0, 128 << 10, 0).get(30, TimeUnit.SECONDS);
            assertEquals(Set.of(ALLOCATION, DEPTH), all.extentsByContext().keySet());
            assertEquals(2, c.stats().chunksReceived() - chunks);

            for (String only : List.of(ALLOCATION, DEPTH)) {
                long sent = c.stats().bytesSent();
                chunks = c.stats().chunksReceived();
                NbdBlockStatus st = c.blockStatus(0, 128 << 10, 0, Set.of(only)).get(30, TimeUnit.SECONDS);
                assertEquals(NbdConstants.EXTENDED_REQUEST_HEADER_LENGTH + 12, c.stats().bytesSent() - sent,
                        "the filter went on the wire");
                assertEquals(1, c.stats().chunksReceived() - chunks, "the server answered for " + only + " only");
                assertEquals(Set.of(only), st.extentsByContext().keySet());
                assertEquals(all.extents(only), st.extents(only));
            }
            assertEquals(List.of(new NbdExtent(0, 64 << 10, HOLE), new NbdExtent(64 << 10, 64 << 10, 0)),
                    all.extents(ALLOCATION));
            assertEquals(List.of(new NbdExtent(0, 64 << 10, 0), new NbdExtent(64 << 10, 64 << 10, 1)),
                    all.extents(DEPTH));
        }
    }
}
