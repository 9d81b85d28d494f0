package io.nbdnetty.client;

import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.bytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The client against qemu-nbd serving qcow2 images: metadata contexts, block sizes, sparse reads, opt mode. */
class QemuNbdInteropTest {
    private static final long SIZE = 4L << 20;
    private static final String B0 = "qemu:dirty-bitmap:b0";
    private static final String DEPTH = "qemu:allocation-depth";
    private static final String BASE = "base:allocation";

    @TempDir
    Path tmp;

    private PeerServer bitmapServer(String... extra) {
        Path image = PeerServer.createQcow2WithDirtyBitmap(tmp.resolve("d.qcow2"), SIZE, "b0");
        List<String> args = new ArrayList<>(List.of("-B", "b0", "-A"));
        args.addAll(Arrays.asList(extra));
        return PeerServer.qemuNbd(image, "qcow2", "disk", args.toArray(String[]::new));
    }

    private static NbdClientConfig.Builder disk() {
        return NbdClientConfig.builder().exportName("disk");
    }

    /** An extent as nbdinfo --map prints it: offset, length, type. */
    record Ext(long offset, long length, long type) {
    }

    /** Merges neighbours of the same type, so that two ways of cutting the same map compare equal. */
    private static List<Ext> merge(List<Ext> in) {
        List<Ext> out = new ArrayList<>();
        for (Ext e : in) {
            Ext last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && last.type() == e.type() && last.offset() + last.length() == e.offset()) {
                out.set(out.size() - 1, new Ext(last.offset(), last.length() + e.length(), last.type()));
            } else {
                out.add(e);
            }
        }
        return out;
    }

    private static List<Ext> nbdinfoMap(String context, String uri) {
        String out = PeerClients.nbdinfo("--map=" + context, uri).assertSuccess().stdout();
        List<Ext> extents = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^\\s*(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+.*$").matcher(out);
        while (m.find()) {
            extents.add(new Ext(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3))));
        }
        assertTrue(!extents.isEmpty(), "nbdinfo printed no extents: " + out);
        return merge(extents);
    }

    /** Block status over the whole export for every context, asking again where the server stopped short. */
    private static Map<String, List<Ext>> fullMap(NbdConnection c) throws Exception {
        Map<String, List<Ext>> all = new java.util.LinkedHashMap<>();
        for (NbdMetaContext ctx : c.metaContexts()) {
            List<Ext> list = new ArrayList<>();
            long at = 0;
            while (at < c.size()) {
                NbdBlockStatus st = await(c.blockStatus(at, c.size() - at, 0));
                List<NbdExtent> got = st.extents(ctx.name());
                assertTrue(!got.isEmpty(), "no extents for " + ctx.name());
                assertEquals(at, got.get(0).offset());
                for (NbdExtent e : got) {
                    long len = Math.min(e.length(), c.size() - e.offset());
                    list.add(new Ext(e.offset(), len, e.flags()));
                }
                at = got.get(got.size() - 1).end();
            }
            all.put(ctx.name(), merge(list));
        }
        return all;
    }

    private static boolean jsonBool(PeerClients.Result r, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*(true|false)").matcher(r.stdout());
        assertTrue(m.find(), "no " + key + " in " + r);
        return Boolean.parseBoolean(m.group(1));
    }

    @Test
    void threeContextsWithIdsFromZeroAndBlockStatusMatchingNbdinfo() throws Exception {
        try (PeerServer server = bitmapServer()) {
            List<Ext> b0 = nbdinfoMap(B0, server.uri());
            List<Ext> depth = nbdinfoMap(DEPTH, server.uri());
            List<Ext> base = nbdinfoMap(BASE, server.uri());
            try (NbdHandle h = NbdHandle.create(disk().metaContexts(List.of(BASE, DEPTH, B0)).build())) {
                NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
                List<NbdMetaContext> granted = c.metaContexts();
                assertEquals(List.of(BASE, DEPTH, B0), granted.stream().map(NbdMetaContext::name).toList());
                assertEquals(List.of(0, 1, 2), granted.stream().map(NbdMetaContext::id).sorted().toList(),
                        "qemu numbers contexts from 0: " + granted);
                assertEquals(granted, h.metaContextsNegotiated());

                Map<String, List<Ext>> map = fullMap(c);
                assertEquals(b0, map.get(B0), "dirty bitmap as nbdinfo --map sees it");
                assertEquals(depth, map.get(DEPTH));
                assertEquals(base, map.get(BASE));
                // What createQcow2WithDirtyBitmap wrote is dirty and local; the rest clean and absent.
                long off = PeerServer.QCOW2_DIRTY_OFFSET;
                long len = PeerServer.QCOW2_DIRTY_LENGTH;
                assertEquals(List.of(new Ext(0, off, 0), new Ext(off, len, 1), new Ext(off + len, SIZE - off - len, 0)),
                        map.get(B0));
                assertEquals(new Ext(off, len, 1), map.get(DEPTH).get(1));

                // REQ_ONE: exactly one extent per context, no longer than asked.
                NbdBlockStatus one = await(c.blockStatus(off, 4096, NbdCommandFlags.REQ_ONE));
                for (String name : List.of(BASE, DEPTH, B0)) {
                    assertEquals(1, one.extents(name).size(), name);
                    assertTrue(one.extents(name).get(0).length() <= 4096);
                }
                assertEquals(1, one.extents(B0).get(0).flags());
                assertEquals(0, one.extents(BASE).get(0).flags(), "written data is allocated, not zero");
                byte[] expected = new byte[(int) len];
                Arrays.fill(expected, (byte) PeerServer.QCOW2_DIRTY_BYTE);
                assertArrayEquals(expected, bytes(await(c.read(off, (int) len))));
                await(c.disconnect());
            }
        }
    }

    @Test
    void blockSizeConstraintsAndFlagsMatchNbdinfo() throws Exception {
        try (PeerServer server = bitmapServer()) {
            PeerClients.Result json = PeerClients.nbdinfoJson(server.uri()).assertSuccess();
            try (NbdHandle h = NbdHandle.create(disk().build())) {
                NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
                NbdExportInfo info = h.exportInfo();
                assertEquals(info, c.exportInfo());
                assertTrue(info.blockSizeAdvertised());
                assertEquals(1, info.minimumBlockSize());
                assertEquals(4096, info.preferredBlockSize());
                assertEquals(32L << 20, info.maximumBlockSize());
                assertEquals(json.jsonNumber("block_size_minimum"), info.minimumBlockSize());
                assertEquals(json.jsonNumber("block_size_preferred"), info.preferredBlockSize());
                assertEquals(json.jsonNumber("block_size_maximum"), info.maximumBlockSize());
                assertEquals(json.jsonNumber("export-size"), c.size());
                assertEquals(jsonBool(json, "can_flush"), info.canFlush());
                assertEquals(jsonBool(json, "can_trim"), info.canTrim());
                assertEquals(jsonBool(json, "can_zero"), info.canZero());
                assertEquals(jsonBool(json, "can_fua"), info.canFua());
                assertEquals(jsonBool(json, "can_df"), info.canDf());
                assertEquals(jsonBool(json, "can_cache"), info.canCache());
                assertEquals(jsonBool(json, "can_fast_zero"), info.canFastZero());
                assertEquals(jsonBool(json, "is_read_only"), info.isReadOnly());
                assertEquals(jsonBool(json, "can_multi_conn"), info.canMultiConn());
                assertEquals(jsonBool(json, "is_rotational"), info.isRotational());
                assertEquals(NbdReplyStyle.STRUCTURED, c.replyStyle(), "qemu 7.2 has no extended headers");
                // A read of 32 MiB + 1 is refused client-side (the server's maximum).
                java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
                        java.util.concurrent.ExecutionException.class, () -> await(c.read(0, (32 << 20) + 1)));
                org.junit.jupiter.api.Assertions.assertInstanceOf(NbdStrictModeException.class, e.getCause());
            }
        }
    }

    @Test
    void sparseReadsSplitIntoDataAndHoleChunksAreAssembled() throws Exception {
        Path image = tmp.resolve("fresh.qcow2");
        PeerClients.qemuImg("create", "-q", "-f", "qcow2", image.toString(), Long.toString(SIZE)).assertSuccess();
        try (PeerServer server = PeerServer.qemuNbd(image, "qcow2", "disk", "--discard=unmap");
             NbdHandle h = NbdHandle.create(disk().addMetaContext(BASE).build())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            int cluster = 64 << 10;
            byte[] data = new byte[3 * cluster];
            new java.util.Random(7).nextBytes(data);
            await(c.write(0, Unpooled.wrappedBuffer(data)));
            await(c.trim(cluster, cluster, 0));
            await(c.flush());
            byte[] expected = data.clone();
            Arrays.fill(expected, cluster, 2 * cluster, (byte) 0);

            List<NbdExtent> ext = await(c.blockStatus(0, 3L * cluster, 0)).extents(BASE);
            assertTrue(ext.stream().anyMatch(e -> e.offset() <= cluster && e.end() >= 2L * cluster && e.isZero()),
                    "the trimmed cluster reads as zero: " + ext);

            long chunks = c.stats().chunksReceived();
            assertArrayEquals(expected, bytes(await(c.read(0, data.length))));
            long split = c.stats().chunksReceived() - chunks;
            assertTrue(split >= 3, "qemu sent data, hole, data: " + split + " chunk(s)");

            // Into a caller buffer, at a non-zero writer index, across the hole boundaries.
            ByteBuf dst = Unpooled.buffer(8 + data.length);
            dst.writeLong(0x1122334455667788L);
            chunks = c.stats().chunksReceived();
            await(c.read(cluster / 2, dst, 2 * cluster, 0));
            assertTrue(c.stats().chunksReceived() - chunks >= 3);
            assertEquals(8 + 2 * cluster, dst.writerIndex());
            byte[] got = bytes(dst);
            assertEquals(0x11, got[0]);
            assertArrayEquals(Arrays.copyOfRange(expected, cluster / 2, cluster / 2 + 2 * cluster),
                    Arrays.copyOfRange(got, 8, got.length));

            // DF: one data chunk for the whole range.
            assertTrue(c.exportInfo().canDf());
            chunks = c.stats().chunksReceived();
            assertArrayEquals(expected, bytes(await(c.read(0, data.length, NbdCommandFlags.DF))));
            assertEquals(1, c.stats().chunksReceived() - chunks, "DF asks for a single chunk");
            ByteBuf dfDst = Unpooled.buffer(data.length);
            await(c.read(0, dfDst, data.length, NbdCommandFlags.DF));
            assertArrayEquals(expected, bytes(dfDst));

            // A read entirely inside the hole.
            assertArrayEquals(new byte[4096], bytes(await(c.read(cluster + 4096, 4096))));
        }
    }

    @Test
    void optModeAgainstQemuNbd() throws Exception {
        try (PeerServer server = bitmapServer()) {
            PeerClients.Result json = PeerClients.nbdinfoJson(server.uri()).assertSuccess();
            try (NbdHandle h = NbdHandle.create(disk().optMode(true).build())) {
                h.connect(UnixSockets.connect(server.socketPath()));
                await(h.negotiatingFuture());
                assertTrue(h.structuredRepliesNegotiated());
                assertEquals(List.of("disk"), await(h.optList()).stream().map(NbdExportEntry::name).toList());

                List<NbdMetaContext> qemu = await(h.optListMetaContexts(List.of("qemu:")));
                assertEquals(List.of(DEPTH, B0), qemu.stream().map(NbdMetaContext::name).sorted().toList());
                List<NbdMetaContext> everything = await(h.optListMetaContexts(List.of()));
                assertEquals(List.of(BASE, DEPTH, B0), everything.stream().map(NbdMetaContext::name).sorted()
                        .toList());

                NbdExportInfo info = await(h.optInfo());
                assertEquals(json.jsonNumber("export-size"), info.size());
                assertEquals(jsonBool(json, "can_flush"), info.canFlush());
                assertEquals(jsonBool(json, "can_trim"), info.canTrim());
                assertEquals(jsonBool(json, "is_read_only"), info.isReadOnly());
                assertEquals(jsonBool(json, "can_multi_conn"), info.canMultiConn());
                assertEquals(NbdState.NEGOTIATING, h.state());

                h.setExportName("nope");
                java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
                        java.util.concurrent.ExecutionException.class, () -> await(h.optInfo()));
                NbdOptionException oe = org.junit.jupiter.api.Assertions.assertInstanceOf(NbdOptionException.class,
                        e.getCause());
                assertTrue(oe.replyType().isError());
                assertEquals(NbdState.NEGOTIATING, h.state());
                h.setExportName("disk");

                List<NbdMetaContext> set = await(h.optSetMetaContexts(List.of(B0)));
                assertEquals(1, set.size());
                assertEquals(B0, set.get(0).name());
                // go negotiates the configured contexts (none here) only when asked to: ask for b0 again.
                h.setMetaContexts(List.of(B0));
                NbdConnection c = await(h.optGo());
                assertEquals(List.of(B0), c.metaContexts().stream().map(NbdMetaContext::name).toList());
                assertEquals(info.size(), c.size());
                List<NbdExtent> ext = await(c.blockStatus(PeerServer.QCOW2_DIRTY_OFFSET, 4096, 0)).extents(B0);
                assertEquals(1, ext.get(0).flags());
                assertEquals(List.of(B0), h.metaContextsNegotiated().stream().map(NbdMetaContext::name)
                        .collect(Collectors.toList()));
            }
        }
    }
}
