package io.nbdnetty.examples.server;

import io.nbdnetty.codec.NbdAckReply;
import io.nbdnetty.codec.NbdBareOption;
import io.nbdnetty.codec.NbdBlockStatusChunk;
import io.nbdnetty.codec.NbdClientFlags;
import io.nbdnetty.codec.NbdClientFlagsMessage;
import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.codec.NbdCommandType;
import io.nbdnetty.codec.NbdErrno;
import io.nbdnetty.codec.NbdErrorChunk;
import io.nbdnetty.codec.NbdErrorReply;
import io.nbdnetty.codec.NbdExportInfoOption;
import io.nbdnetty.codec.NbdExportNameOption;
import io.nbdnetty.codec.NbdExportNameReply;
import io.nbdnetty.codec.NbdHandshakeFlags;
import io.nbdnetty.codec.NbdInfo;
import io.nbdnetty.codec.NbdInfoReply;
import io.nbdnetty.codec.NbdInfoType;
import io.nbdnetty.codec.NbdMetaContextOption;
import io.nbdnetty.codec.NbdMetaContextReply;
import io.nbdnetty.codec.NbdNewstyleGreeting;
import io.nbdnetty.codec.NbdNoneChunk;
import io.nbdnetty.codec.NbdOffsetDataChunk;
import io.nbdnetty.codec.NbdOffsetHoleChunk;
import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdOptionReplyType;
import io.nbdnetty.codec.NbdRawOption;
import io.nbdnetty.codec.NbdReplyChunk;
import io.nbdnetty.codec.NbdRequest;
import io.nbdnetty.codec.NbdServerReply;
import io.nbdnetty.codec.NbdSimpleReply;
import io.nbdnetty.codec.NbdStateFlags;
import io.nbdnetty.codec.NbdTransmissionFlags;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The server against a hand-driven client built from the codec, over a real Unix socket: extended headers (which no
 * installed client speaks), and handshake and transmission corners that real clients do not reach.
 */
class NbdServerRawClientTest {
    private static final long BIG = 8L << 30; // 8 GiB, sparse: a hole longer than 32 bits
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private NbdServer server;
    private final List<RawNbdClient> clients = new ArrayList<>();

    @AfterEach
    void tearDown() {
        clients.forEach(RawNbdClient::close);
        if (server != null) {
            server.close();
        }
    }

    private RawNbdClient start(Consumer<NbdServer.Builder> config) throws Exception {
        NbdServer.Builder b = NbdServer.builder();
        config.accept(b);
        server = b.build();
        Path socket = dir.resolve("s.sock");
        server.bind(io.netty.channel.unix.DomainSocketAddress.class.getConstructor(String.class)
                .newInstance(socket.toString()));
        return connect(socket);
    }

    private RawNbdClient connect(Path socket) throws Exception {
        RawNbdClient c = new RawNbdClient(socket);
        clients.add(c);
        NbdNewstyleGreeting g = c.next(NbdNewstyleGreeting.class);
        assertEquals(NbdHandshakeFlags.FIXED_NEWSTYLE | NbdHandshakeFlags.NO_ZEROES, g.handshakeFlags());
        return c;
    }

    private static void flags(RawNbdClient c) {
        c.send(new NbdClientFlagsMessage(NbdClientFlags.FIXED_NEWSTYLE | NbdClientFlags.NO_ZEROES));
    }

    private static void ack(RawNbdClient c, NbdOption option) throws InterruptedException {
        assertEquals(new NbdAckReply(option), c.next(NbdAckReply.class));
    }

    private static NbdErrorReply optionError(RawNbdClient c, NbdOptionReplyType type) throws InterruptedException {
        NbdErrorReply e = c.next(NbdErrorReply.class);
        assertEquals(type, e.type(), e.toString());
        return e;
    }

    private static ByteBuf pattern(int length, int seed) {
        ByteBuf b = Unpooled.buffer(length);
        for (int i = 0; i < length; i++) {
            b.writeByte((i * 31 + seed) & 0xff);
        }
        return b;
    }

    /** Negotiates extended headers and base:allocation, then NBD_OPT_GO; returns the transmission flags. */
    private static int goExtended(RawNbdClient c) throws InterruptedException {
        flags(c);
        c.send(NbdBareOption.EXTENDED_HEADERS);
        ack(c, NbdOption.EXTENDED_HEADERS);
        // Extended headers win: structured replies on top are refused.
        c.send(NbdBareOption.STRUCTURED_REPLY);
        optionError(c, NbdOptionReplyType.ERR_EXT_HEADER_REQD);
        c.send(new NbdMetaContextOption(NbdOption.SET_META_CONTEXT, "", List.of("base:allocation")));
        NbdMetaContextReply ctx = c.next(NbdMetaContextReply.class);
        assertEquals("base:allocation", ctx.name());
        assertEquals(ServerConfig.BASE_ALLOCATION_ID, ctx.contextId());
        ack(c, NbdOption.SET_META_CONTEXT);
        c.send(new NbdExportInfoOption(NbdOption.GO, "", List.of(NbdInfoType.BLOCK_SIZE, NbdInfoType.NAME)));
        NbdInfo.Export export = null;
        boolean blockSize = false;
        for (;;) {
            Object o = c.next();
            if (o instanceof NbdAckReply a) {
                assertEquals(NbdOption.GO, a.option());
                break;
            }
            NbdInfo info = ((NbdInfoReply) o).info();
            if (info instanceof NbdInfo.Export e) {
                export = e;
            } else if (info instanceof NbdInfo.BlockSize b) {
                assertEquals(new NbdInfo.BlockSize(1, 4096, NbdServer.DEFAULT_MAX_PAYLOAD), b);
                blockSize = true;
            } else if (info instanceof NbdInfo.Name n) {
                assertEquals("", n.name());
            }
        }
        assertTrue(blockSize, "NBD_INFO_BLOCK_SIZE was asked for");
        assertEquals(BIG, export.exportSize());
        return export.transmissionFlags();
    }

    private static long[] hole(long length) {
        return new long[] {length, NbdStateFlags.HOLE | NbdStateFlags.ZERO};
    }

    @Test
    void extendedHeadersWriteReadAndBlockStatusExt() throws Exception {
        RawNbdClient c = start(b -> b.export("", new MemoryExport(BIG)));
        int tflags = goExtended(c);
        assertEquals(NbdTransmissionFlags.BLOCK_STATUS_PAYLOAD | NbdTransmissionFlags.SEND_DF,
                tflags & (NbdTransmissionFlags.BLOCK_STATUS_PAYLOAD | NbdTransmissionFlags.SEND_DF),
                NbdTransmissionFlags.toString(tflags));
        c.startTransmission(true, cookie -> -1);

        // WRITE 1.5 MiB at 5 GiB (beyond 32 bits), with the payload flag extended headers require.
        long at = 5L << 30;
        int len = (int) (MIB + MIB / 2);
        ByteBuf data = pattern(len, 7);
        c.send(new NbdRequest(NbdCommandFlags.PAYLOAD_LEN, NbdCommandType.WRITE, 1, at, len, data.retainedSlice()));
        NbdNoneChunk done = c.next(NbdNoneChunk.class);
        assertEquals(1, done.cookie());
        assertEquals(at, done.headerOffset(), "the extended header echoes the request offset");
        assertTrue(done.isDone());

        // READ it back with 64 KiB of hole on each side: data chunks of at most 1 MiB, hole chunks for the rest.
        long from = at - 64 * 1024;
        int readLen = len + 128 * 1024;
        c.send(new NbdRequest(0, NbdCommandType.READ, 2, from, readLen));
        ByteBuf got = Unpooled.buffer(readLen);
        got.writeZero(readLen);
        long covered = 0;
        for (boolean last = false; !last; ) {
            NbdReplyChunk chunk = c.next(NbdReplyChunk.class);
            assertEquals(2, chunk.cookie());
            assertEquals(from, chunk.headerOffset());
            last = chunk.isDone();
            if (chunk instanceof NbdOffsetDataChunk d) {
                assertTrue(d.data().readableBytes() <= MIB);
                got.setBytes((int) (d.offset() - from), d.data(), d.data().readerIndex(), d.data().readableBytes());
                covered += d.data().readableBytes();
                d.release();
            } else if (chunk instanceof NbdOffsetHoleChunk h) {
                covered += h.holeSize();
            } else {
                throw new AssertionError("unexpected " + chunk);
            }
        }
        assertEquals(readLen, covered);
        assertEquals(data, got.slice(64 * 1024, len));
        got.release();

        // READ with DF: one data chunk, zeroes included.
        c.send(new NbdRequest(NbdCommandFlags.DF, NbdCommandType.READ, 3, from, 128 * 1024));
        NbdOffsetDataChunk one = c.next(NbdOffsetDataChunk.class);
        assertTrue(one.isDone());
        assertEquals(128 * 1024, one.data().readableBytes());
        assertEquals(data.slice(0, 64 * 1024), one.data().slice(64 * 1024, 64 * 1024));
        one.release();
        data.release();

        // BLOCK_STATUS over the whole export: 64-bit extents, the first longer than 4 GiB.
        c.send(new NbdRequest(0, NbdCommandType.BLOCK_STATUS, 4, 0, BIG));
        NbdBlockStatusChunk bs = c.next(NbdBlockStatusChunk.class);
        assertTrue(bs.isExtended() && bs.isDone());
        assertEquals(ServerConfig.BASE_ALLOCATION_ID, bs.contextId());
        // 1.5 MiB at a 64 KiB-aligned offset fills whole allocation chunks: the extents match the write exactly.
        long[] expected = concat(hole(at), new long[] {len, 0}, hole(BIG - at - len));
        assertArrayEquals(expected, bs.extents(), bs.toString());

        // REQ_ONE: one descriptor, not longer than asked.
        c.send(new NbdRequest(NbdCommandFlags.REQ_ONE, NbdCommandType.BLOCK_STATUS, 5, 0, 4096));
        bs = c.next(NbdBlockStatusChunk.class);
        assertArrayEquals(hole(4096), bs.extents());

        // The payload form: effect length, then the context ids wanted.
        ByteBuf payload = Unpooled.buffer().writeLong(BIG - at).writeInt(ServerConfig.BASE_ALLOCATION_ID);
        c.send(new NbdRequest(NbdCommandFlags.PAYLOAD_LEN, NbdCommandType.BLOCK_STATUS, 6, at, 12, payload));
        bs = c.next(NbdBlockStatusChunk.class);
        assertArrayEquals(concat(new long[] {len, 0}, hole(BIG - at - len)), bs.extents());
        ByteBuf unknownId = Unpooled.buffer().writeLong(4096).writeInt(77);
        c.send(new NbdRequest(NbdCommandFlags.PAYLOAD_LEN, NbdCommandType.BLOCK_STATUS, 7, 0, 12, unknownId));
        assertEquals(NbdErrno.EINVAL, error(c, 7, 0).error());

        // TRIM deallocates whole chunks; FLUSH and CACHE succeed.
        c.send(new NbdRequest(0, NbdCommandType.TRIM, 8, at, len));
        assertEquals(8, c.next(NbdNoneChunk.class).cookie());
        c.send(new NbdRequest(0, NbdCommandType.FLUSH, 9, 0, 0));
        assertEquals(9, c.next(NbdNoneChunk.class).cookie());
        c.send(new NbdRequest(0, NbdCommandType.CACHE, 10, 0, 4096));
        assertEquals(10, c.next(NbdNoneChunk.class).cookie());
        c.send(new NbdRequest(0, NbdCommandType.BLOCK_STATUS, 11, 0, BIG));
        assertArrayEquals(hole(BIG), c.next(NbdBlockStatusChunk.class).extents());

        // A WRITE without PAYLOAD_LEN, as qemu 10 sends it: its data follows all the same and is written.
        c.send(new NbdRequest(0, NbdCommandType.WRITE, 12, 0, 4096, pattern(4096, 12)));
        assertEquals(12, c.next(NbdNoneChunk.class).cookie());
        c.send(new NbdRequest(NbdCommandFlags.DF, NbdCommandType.READ, 40, 0, 4096));
        NbdOffsetDataChunk back = c.next(NbdOffsetDataChunk.class);
        assertEquals(40, back.cookie());
        ByteBuf written = pattern(4096, 12);
        assertEquals(written, back.data());
        written.release();
        back.release();

        // Errors are error chunks with the request offset in the header.
        c.send(new NbdRequest(0, NbdCommandType.READ, 13, BIG - 512, 1024));
        assertEquals(NbdErrno.EINVAL, error(c, 13, BIG - 512).error());
        c.send(new NbdRequest(NbdCommandFlags.PAYLOAD_LEN, NbdCommandType.WRITE, 14, BIG - 512, 1024,
                Unpooled.wrappedBuffer(new byte[1024])));
        assertEquals(NbdErrno.ENOSPC, error(c, 14, BIG - 512).error());
        c.send(new NbdRequest(0, NbdCommandType.WRITE_ZEROES, 15, BIG, 1));
        assertEquals(NbdErrno.ENOSPC, error(c, 15, BIG).error());
        c.send(new NbdRequest(0, NbdCommandType.valueOf(99), 16, 0, 0));
        assertEquals(NbdErrno.EINVAL, error(c, 16, 0).error());
        c.send(new NbdRequest(1 << 9, NbdCommandType.READ, 17, 0, 512)); // unknown flag bit
        assertEquals(NbdErrno.EINVAL, error(c, 17, 0).error());

        // WRITE_ZEROES with NO_HOLE allocates; FAST_ZERO is fast in memory.
        c.send(new NbdRequest(NbdCommandFlags.NO_HOLE | NbdCommandFlags.FAST_ZERO, NbdCommandType.WRITE_ZEROES, 18,
                0, 64 * 1024));
        assertEquals(18, c.next(NbdNoneChunk.class).cookie());
        c.send(new NbdRequest(NbdCommandFlags.REQ_ONE, NbdCommandType.BLOCK_STATUS, 19, 0, MIB));
        assertArrayEquals(new long[] {64 * 1024, 0}, c.next(NbdBlockStatusChunk.class).extents());

        // NBD_CMD_DISC: the server hangs up.
        c.send(new NbdRequest(0, NbdCommandType.DISC, 20, 0, 0));
        assertSame(RawNbdClient.CLOSED, c.next());
    }

    private static NbdErrorChunk error(RawNbdClient c, long cookie, long headerOffset) throws InterruptedException {
        NbdErrorChunk e = c.next(NbdErrorChunk.class);
        assertEquals(cookie, e.cookie());
        assertEquals(headerOffset, e.headerOffset());
        assertTrue(e.isDone());
        assertTrue(!e.message().isEmpty(), "errors carry a message");
        return e;
    }

    private static long[] concat(long[]... parts) {
        long[] out = new long[0];
        for (long[] p : parts) {
            int n = out.length;
            out = Arrays.copyOf(out, n + p.length);
            System.arraycopy(p, 0, out, n, p.length);
        }
        return out;
    }

    @Test
    void extendedHeadersSwitchedOffAreRefusedAndCompactHeadersWork() throws Exception {
        RawNbdClient c = start(b -> b.export("", new MemoryExport(MIB)).extendedHeaders(false));
        flags(c);
        c.send(NbdBareOption.EXTENDED_HEADERS);
        optionError(c, NbdOptionReplyType.ERR_UNSUP);
        c.send(NbdBareOption.STRUCTURED_REPLY);
        ack(c, NbdOption.STRUCTURED_REPLY);
        c.send(new NbdExportInfoOption(NbdOption.GO, "", List.of()));
        int tflags = c.next(NbdInfoReply.class).info() instanceof NbdInfo.Export e ? e.transmissionFlags() : -1;
        assertEquals(0, tflags & NbdTransmissionFlags.BLOCK_STATUS_PAYLOAD);
        assertEquals(NbdTransmissionFlags.SEND_DF, tflags & NbdTransmissionFlags.SEND_DF);
        ack(c, NbdOption.GO);
        c.startTransmission(false, cookie -> 0);
        // Success without data may be a simple reply under structured replies.
        c.send(new NbdRequest(0, NbdCommandType.WRITE, 1, 0, 512, pattern(512, 1)));
        NbdSimpleReply ok = c.next(NbdSimpleReply.class);
        assertEquals(NbdErrno.OK, ok.error());
        ok.release();
        // No SET_META_CONTEXT: block status is refused with a structured error.
        c.send(new NbdRequest(0, NbdCommandType.BLOCK_STATUS, 2, 0, 512));
        assertEquals(NbdErrno.EINVAL, error(c, 2, 0).error());
    }

    @Test
    void readOnlyRefusesWritesWithEperm() throws Exception {
        RawNbdClient c = start(b -> b.export("", new MemoryExport(MIB)).readOnly(true));
        flags(c);
        c.send(new NbdExportInfoOption(NbdOption.GO, "", List.of()));
        NbdInfo.Export e = (NbdInfo.Export) c.next(NbdInfoReply.class).info();
        assertEquals(NbdTransmissionFlags.READ_ONLY, e.transmissionFlags() & NbdTransmissionFlags.READ_ONLY);
        ack(c, NbdOption.GO);
        // Neither structured replies nor extended headers: simple replies carry the errors.
        c.startTransmission(false, cookie -> cookie == 4 ? 512 : -1);
        c.send(new NbdRequest(0, NbdCommandType.WRITE, 1, 0, 512, pattern(512, 1)));
        c.send(new NbdRequest(0, NbdCommandType.TRIM, 2, 0, 512));
        c.send(new NbdRequest(0, NbdCommandType.WRITE_ZEROES, 3, 0, 512));
        c.send(new NbdRequest(0, NbdCommandType.READ, 4, 0, 512));
        for (int i = 0; i < 4; i++) {
            NbdSimpleReply r = c.next(NbdSimpleReply.class);
            if (r.cookie() == 4) {
                assertEquals(NbdErrno.OK, r.error());
                assertEquals(Unpooled.buffer(512).writeZero(512), r.data());
            } else {
                assertEquals(NbdErrno.EPERM, r.error(), "cookie " + r.cookie());
            }
            r.release();
        }
    }

    @Test
    void optionHaggling() throws Exception {
        RawNbdClient c = start(b -> b.export("a", new MemoryExport(MIB), "first").export("b", new MemoryExport(MIB))
                .description("default text"));
        flags(c);
        c.send(NbdBareOption.LIST);
        assertEquals(new NbdServerReply(NbdOption.LIST, "a", "first"), c.next(NbdServerReply.class));
        assertEquals(new NbdServerReply(NbdOption.LIST, "b", "default text"), c.next(NbdServerReply.class));
        ack(c, NbdOption.LIST);
        c.send(NbdBareOption.STARTTLS);
        optionError(c, NbdOptionReplyType.ERR_POLICY);
        c.send(new NbdRawOption(NbdOption.valueOf(99), new byte[3], false));
        optionError(c, NbdOptionReplyType.ERR_UNSUP);
        c.send(new NbdRawOption(NbdOption.INFO, new byte[] {0, 0, 0, 9}, false)); // name longer than the data
        optionError(c, NbdOptionReplyType.ERR_INVALID);
        c.send(new NbdRawOption(NbdOption.STRUCTURED_REPLY, new byte[] {1}, false)); // data where none belongs
        optionError(c, NbdOptionReplyType.ERR_INVALID);
        // SET_META_CONTEXT needs structured replies first; LIST does not.
        c.send(new NbdMetaContextOption(NbdOption.SET_META_CONTEXT, "a", List.of("base:allocation")));
        optionError(c, NbdOptionReplyType.ERR_INVALID);
        c.send(new NbdMetaContextOption(NbdOption.LIST_META_CONTEXT, "a", List.of()));
        assertEquals("base:allocation", c.next(NbdMetaContextReply.class).name());
        assertEquals("qemu:allocation-depth", c.next(NbdMetaContextReply.class).name());
        ack(c, NbdOption.LIST_META_CONTEXT);
        c.send(new NbdMetaContextOption(NbdOption.LIST_META_CONTEXT, "a", List.of("qemu:dirty-bitmap:x")));
        ack(c, NbdOption.LIST_META_CONTEXT);
        c.send(new NbdMetaContextOption(NbdOption.LIST_META_CONTEXT, "nope", List.of()));
        optionError(c, NbdOptionReplyType.ERR_UNKNOWN);
        c.send(new NbdExportInfoOption(NbdOption.INFO, "nope", List.of()));
        assertTrue(optionError(c, NbdOptionReplyType.ERR_UNKNOWN).message().contains("nope"));
        // INFO with NAME and DESCRIPTION, on the default export (the first one).
        c.send(new NbdExportInfoOption(NbdOption.INFO, "", List.of(NbdInfoType.NAME, NbdInfoType.DESCRIPTION)));
        List<NbdInfo> infos = new ArrayList<>();
        for (Object o = c.next(); !(o instanceof NbdAckReply); o = c.next()) {
            infos.add(((NbdInfoReply) o).info());
        }
        assertEquals(3, infos.size(), infos.toString());
        assertTrue(infos.contains(new NbdInfo.Name("a")));
        assertTrue(infos.contains(new NbdInfo.Description("first")));
        // EXPORT_NAME with zero padding (the client did not set NO_ZEROES on this connection).
        RawNbdClient c2 = connect(dir.resolve("s.sock"));
        c2.send(new NbdClientFlagsMessage(NbdClientFlags.FIXED_NEWSTYLE));
        // The decoder must know the reply's shape before it arrives.
        c2.channel().eventLoop().submit(() -> ((io.nbdnetty.codec.NbdClientHandshakeDecoder) c2.channel().pipeline()
                .get("dec")).expectExportNameReply(true)).sync();
        c2.send(new NbdExportNameOption("b"));
        NbdExportNameReply r = c2.next(NbdExportNameReply.class);
        assertEquals(MIB, r.exportSize());
        // ABORT: acknowledged, then the server hangs up.
        c.send(NbdBareOption.ABORT);
        ack(c, NbdOption.ABORT);
        assertSame(RawNbdClient.CLOSED, c.next());
    }

    @Test
    void unknownClientFlagsCloseTheConnection() throws Exception {
        RawNbdClient c = start(b -> b.export("", new MemoryExport(MIB)));
        c.send(new NbdClientFlagsMessage(NbdClientFlags.FIXED_NEWSTYLE | (1 << 7)));
        assertSame(RawNbdClient.CLOSED, c.next());
    }

    @Test
    void blockSizesAreAdvertisedAndEnforced() throws Exception {
        RawNbdClient c = start(b -> b.export("", new MemoryExport(MIB)).blockSizes(512, 4096, 64 * 1024));
        flags(c);
        c.send(NbdBareOption.STRUCTURED_REPLY);
        ack(c, NbdOption.STRUCTURED_REPLY);
        c.send(new NbdExportInfoOption(NbdOption.GO, "", List.of())); // not asked, but configured: sent anyway
        List<NbdInfo> infos = new ArrayList<>();
        for (Object o = c.next(); !(o instanceof NbdAckReply); o = c.next()) {
            infos.add(((NbdInfoReply) o).info());
        }
        assertTrue(infos.contains(new NbdInfo.BlockSize(512, 4096, 64 * 1024)), infos.toString());
        c.startTransmission(false, cookie -> -1);
        c.send(new NbdRequest(0, NbdCommandType.READ, 1, 100, 512));
        assertEquals(NbdErrno.EINVAL, error(c, 1, 0).error());
        c.send(new NbdRequest(0, NbdCommandType.READ, 2, 0, 128 * 1024));
        assertEquals(NbdErrno.EINVAL, error(c, 2, 0).error());
        c.send(new NbdRequest(0, NbdCommandType.READ, 3, 0, 512));
        NbdOffsetHoleChunk h = c.next(NbdOffsetHoleChunk.class);
        assertEquals(512, h.holeSize());
    }
}
