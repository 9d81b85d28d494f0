package io.nbdnetty.client;

import io.nbdnetty.codec.NbdAckReply;
import io.nbdnetty.codec.NbdBlockStatusChunk;
import io.nbdnetty.codec.NbdConstants;
import io.nbdnetty.codec.NbdInfo;
import io.nbdnetty.codec.NbdInfoReply;
import io.nbdnetty.codec.NbdMetaContextReply;
import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdReplyFlags;
import io.nbdnetty.codec.NbdTransmissionFlags;
import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

import static io.nbdnetty.client.TestSupport.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Filtered block status (proto-extended-headers.md, "NBD_CMD_BLOCK_STATUS": NBD_CMD_FLAG_PAYLOAD_LEN with a payload of
 * the effect length and the wanted context ids, when the server advertises NBD_FLAG_BLOCK_STATUS_PAYLOAD): against
 * qemu-nbd 10, the one packaged server that advertises the flag, and against a scripted server that answers for a
 * context it was not asked for.
 */
class BlockStatusFilterTest {
    private static final String ALLOCATION = NbdMetaContext.BASE_ALLOCATION;
    private static final String BITMAP = NbdMetaContext.QEMU_DIRTY_BITMAP_PREFIX + "b0";
    private static final String DEPTH = NbdMetaContext.QEMU_ALLOCATION_DEPTH;
    private static final long SIZE = 4L << 20;

    @TempDir
    Path dir;

    /**
     * A qcow2 image made by qemu 10's own tools: 64 KiB written at 0 before the bitmap b0 exists (allocated, clean),
     * then 64 KiB at 1 MiB after it (allocated, dirty); the rest unallocated.
     */
    private Path image() {
        String file = dir.resolve("disk.qcow2").toString();
        PeerClients.qemu10("qemu-img", "create", "-q", "-f", "qcow2", file, Long.toString(SIZE)).assertSuccess();
        PeerClients.qemu10("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 64k", file).assertSuccess();
        PeerClients.qemu10("qemu-img", "bitmap", "--add", file, "b0").assertSuccess();
        PeerClients.qemu10("qemu-io", "-f", "qcow2", "-c", "write -P 0x22 1M 64k", file).assertSuccess();
        return Path.of(file);
    }

    private static NbdClientConfig.Builder threeContexts() {
        return NbdClientConfig.builder().exportName("disk").metaContexts(List.of(ALLOCATION, BITMAP, DEPTH));
    }

    @Test
    void qemuNbd10AnswersOnlyTheContextsAsked() throws Exception {
        Path image = image();
        try (PeerServer server = PeerServer.qemuNbd10(image, "qcow2", "disk", "-B", "b0", "-A", "-r");
             NbdHandle h = NbdHandle.create(threeContexts().build())) {
            NbdConnection c = await(h.connectUnix(server.socketPath()));
            assertEquals(NbdReplyStyle.EXTENDED, c.replyStyle(), "qemu 10 negotiates extended headers");
            assertTrue(c.exportInfo().canBlockStatusPayload(), "qemu 10 advertises NBD_FLAG_BLOCK_STATUS_PAYLOAD: "
                    + c.exportInfo());
            assertEquals(3, c.metaContexts().size(), c.metaContexts().toString());

            // Unfiltered: one status chunk per negotiated context.
            long chunks = c.stats().chunksReceived();
            long sent = c.stats().bytesSent();
            NbdBlockStatus all = await(c.blockStatus(0, SIZE, 0));
            assertEquals(Set.of(ALLOCATION, BITMAP, DEPTH), all.extentsByContext().keySet());
            assertEquals(3, c.stats().chunksReceived() - chunks);
            assertEquals(NbdConstants.EXTENDED_REQUEST_HEADER_LENGTH, c.stats().bytesSent() - sent);

            // Only the bitmap: the request carries a payload of 8 + 4 bytes, and one chunk comes back. A chunk for
            // any other context would have killed the connection (see the scripted test below).
            chunks = c.stats().chunksReceived();
            sent = c.stats().bytesSent();
            NbdBlockStatus dirty = await(c.blockStatus(0, SIZE, 0, Set.of(BITMAP)));
            assertEquals(Set.of(BITMAP), dirty.extentsByContext().keySet());
            assertEquals(1, c.stats().chunksReceived() - chunks, "qemu 10 sent a chunk for one context");
            assertEquals(NbdConstants.EXTENDED_REQUEST_HEADER_LENGTH + 8 + 4, c.stats().bytesSent() - sent);
            assertEquals(all.extents(BITMAP), dirty.extents(BITMAP), "the same extents as unfiltered");
            assertEquals(List.of(new NbdExtent(0, 1 << 20, 0), new NbdExtent(1 << 20, 64 << 10, 1),
                    new NbdExtent((1 << 20) + (64 << 10), SIZE - (1 << 20) - (64 << 10), 0)), dirty.extents(BITMAP));

            // Two of the three, and with REQ_ONE.
            chunks = c.stats().chunksReceived();
            NbdBlockStatus two = await(c.blockStatus(0, SIZE, io.nbdnetty.codec.NbdCommandFlags.REQ_ONE,
                    Set.of(BITMAP, ALLOCATION)));
            assertEquals(List.of(ALLOCATION, BITMAP), List.copyOf(two.extentsByContext().keySet()),
                    "in the order the server granted them");
            assertEquals(2, c.stats().chunksReceived() - chunks);
            assertEquals(List.of(new NbdExtent(0, 64 << 10, 0)), two.extents(ALLOCATION), "data at 0");
            assertEquals(List.of(new NbdExtent(0, 1 << 20, 0)), two.extents(BITMAP), "clean up to 1 MiB");

            // A filter near the end of the export (the effect length is in the payload, not the header).
            NbdBlockStatus tail = await(c.blockStatus(SIZE - 512, 512, 0, Set.of(DEPTH)));
            assertEquals(List.of(new NbdExtent(SIZE - 512, 512, 0)), tail.extents(DEPTH), "unallocated at the end");

            // A context that was not granted: refused before anything is sent; the connection carries on.
            sent = c.stats().bytesSent();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> c.blockStatus(0, SIZE, 0, Set.of("qemu:dirty-bitmap:nope")));
            assertTrue(e.getMessage().contains("qemu:dirty-bitmap:nope"), e.getMessage());
            assertTrue(e.getMessage().contains("not granted"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> c.blockStatus(0, SIZE, 0, Set.of()));
            assertEquals(sent, c.stats().bytesSent(), "nothing was sent");
            assertEquals(NbdState.READY, h.state());
        }
    }

    @Test
    void withoutExtendedHeadersTheFilterIsAppliedHere() throws Exception {
        Path image = image();
        try (PeerServer server = PeerServer.qemuNbd10(image, "qcow2", "disk", "-B", "b0", "-A", "-r");
             NbdHandle h = NbdHandle.create(threeContexts().requestExtendedHeaders(false).build())) {
            NbdConnection c = await(h.connectUnix(server.socketPath()));
            assertEquals(NbdReplyStyle.STRUCTURED, c.replyStyle());
            assertFalse(c.exportInfo().canBlockStatusPayload(), "no flag without extended headers");
            long chunks = c.stats().chunksReceived();
            long sent = c.stats().bytesSent();
            NbdBlockStatus dirty = await(c.blockStatus(0, SIZE, 0, Set.of(BITMAP)));
            assertEquals(Set.of(BITMAP), dirty.extentsByContext().keySet());
            assertEquals(3, c.stats().chunksReceived() - chunks, "the server answered for every context");
            assertEquals(NbdConstants.REQUEST_HEADER_LENGTH, c.stats().bytesSent() - sent, "no payload was sent");
            assertEquals(new NbdExtent(1 << 20, 64 << 10, 1), dirty.extents(BITMAP).get(1));
        }
    }

    // ------------------------------------------------------------------------------------ hostile server

    /** A handshake that grants extended headers and two contexts and advertises the block status payload flag. */
    private static void extendedHandshake(ScriptedServer.Peer p) throws Exception {
        p.greeting(io.nbdnetty.codec.NbdHandshakeFlags.FIXED_NEWSTYLE | io.nbdnetty.codec.NbdHandshakeFlags.NO_ZEROES);
        p.readClientFlags();
        while (true) {
            ScriptedServer.Opt o = p.readOption();
            NbdOption opt = o.option();
            if (opt.equals(NbdOption.EXTENDED_HEADERS)) {
                p.send(new NbdAckReply(opt));
            } else if (opt.equals(NbdOption.SET_META_CONTEXT)) {
                p.send(new NbdMetaContextReply(opt, 7, ALLOCATION));
                p.send(new NbdMetaContextReply(opt, 9, BITMAP));
                p.send(new NbdAckReply(opt));
            } else if (opt.equals(NbdOption.GO)) {
                p.send(new NbdInfoReply(opt, new NbdInfo.Export(1 << 20, ScriptedServer.DEFAULT_TX_FLAGS
                        | NbdTransmissionFlags.BLOCK_STATUS_PAYLOAD)));
                p.send(new NbdAckReply(opt));
                p.extended = true;
                return;
            } else {
                p.refuse(o);
            }
        }
    }

    /** Reads one extended request header and, with PAYLOAD_LEN, its payload; returns all its bytes. */
    private static byte[] readExtendedRequest(ScriptedServer.Peer p) throws Exception {
        ByteBuffer h = p.readFully(NbdConstants.EXTENDED_REQUEST_HEADER_LENGTH);
        int flags = Short.toUnsignedInt(h.getShort(4));
        long length = h.getLong(24);
        int payload = (flags & 0x20) != 0 ? (int) length : 0;
        ByteBuffer all = ByteBuffer.allocate(h.capacity() + payload).put(h.duplicate().rewind());
        all.put(p.readFully(payload));
        return all.array();
    }

    @Test
    void aReplyForAContextNotAskedForIsAProtocolError() throws Exception {
        CompletableFuture<byte[]> request = new CompletableFuture<>();
        try (ScriptedServer s = ScriptedServer.start(p -> {
            extendedHandshake(p);
            byte[] r = readExtendedRequest(p);
            request.complete(r);
            long cookie = ByteBuffer.wrap(r).getLong(8);
            // Asked for the bitmap (id 9) only; answers for base:allocation (id 7) too.
            p.send(new NbdBlockStatusChunk(0, cookie, 0, true, 7, new long[] {4096, 0}));
            p.send(new NbdBlockStatusChunk(NbdReplyFlags.DONE, cookie, 0, true, 9, new long[] {4096, 1}));
            p.awaitClientClose();
        });
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder()
                     .metaContexts(List.of(ALLOCATION, BITMAP)).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            assertTrue(c.exportInfo().canBlockStatusPayload());
            CompletableFuture<NbdBlockStatus> f = c.blockStatus(0, 4096, 0, Set.of(BITMAP));
            // What went on the wire, against the spec's layout: extended magic, flags PAYLOAD_LEN, type 7, cookie,
            // offset 0, length 12 (the payload's), then the effect length 4096 and context id 9.
            byte[] wire = request.get(TestSupport.TIMEOUT_SECONDS, java.util.concurrent.TimeUnit.SECONDS);
            String hex = HexFormat.of().formatHex(wire);
            String cookie = hex.substring(16, 32);
            assertEquals("21e41c71" + "0020" + "0007" + cookie + "0000000000000000" + "000000000000000c"
                    + "0000000000001000" + "00000009", hex);
            NbdProtocolException e = TestSupport.fails(NbdProtocolException.class, f);
            assertTrue(e.getMessage().contains("did not ask for"), e.getMessage());
            assertTrue(e.getMessage().contains(ALLOCATION), e.getMessage());
            TestSupport.assertDead(h);
        }
    }

    @Test
    void aFilteredReplyMissingAContextAskedForIsAProtocolError() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            extendedHandshake(p);
            long cookie = ByteBuffer.wrap(readExtendedRequest(p)).getLong(8);
            // Asked for both; answers for one.
            p.send(new NbdBlockStatusChunk(NbdReplyFlags.DONE, cookie, 0, true, 9, new long[] {4096, 1}));
            p.awaitClientClose();
        });
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder()
                     .metaContexts(List.of(ALLOCATION, BITMAP)).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            NbdProtocolException e = TestSupport.fails(NbdProtocolException.class,
                    c.blockStatus(0, 4096, 0, Set.of(BITMAP, ALLOCATION)));
            assertTrue(e.getMessage().contains("1 status chunk(s) for 2 context(s) asked for"), e.getMessage());
            TestSupport.assertDead(h);
        }
    }

    @Test
    void aFilteredReplyWithAContextTwiceIsAProtocolError() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(p -> {
            extendedHandshake(p);
            long cookie = ByteBuffer.wrap(readExtendedRequest(p)).getLong(8);
            p.send(new NbdBlockStatusChunk(0, cookie, 0, true, 9, new long[] {4096, 1}));
            p.send(new NbdBlockStatusChunk(NbdReplyFlags.DONE, cookie, 0, true, 9, new long[] {4096, 1}));
            p.awaitClientClose();
        });
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder()
                     .metaContexts(List.of(ALLOCATION, BITMAP)).build())) {
            NbdConnection c = await(h.connect(s.connect()));
            NbdProtocolException e = TestSupport.fails(NbdProtocolException.class,
                    c.blockStatus(0, 4096, 0, Set.of(BITMAP)));
            assertTrue(e.getMessage().contains("two block status chunks for context " + BITMAP), e.getMessage());
            TestSupport.assertDead(h);
        }
    }
}
