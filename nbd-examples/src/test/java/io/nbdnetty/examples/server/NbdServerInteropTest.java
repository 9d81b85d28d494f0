package io.nbdnetty.examples.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The example server against real clients: libnbd's nbdinfo, nbdcopy and nbdsh, qemu-img, qemu-io and fio, each
 * talking to an in-process {@link NbdServer} on a Unix socket in a temporary directory. A missing client skips its
 * test (see {@link Peers}).
 */
class NbdServerInteropTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private NbdServer server;
    private Path socket;

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.close();
        }
    }

    private String start(Consumer<NbdServer.Builder> config) throws Exception {
        NbdServer.Builder b = NbdServer.builder();
        config.accept(b);
        server = b.build();
        socket = dir.resolve("s.sock");
        server.bind(new DomainSocketAddress(socket.toString()));
        return uri("");
    }

    private String uri(String export) {
        return "nbd+unix:///" + export + "?socket=" + socket;
    }

    private JsonNode json(String... command) throws Exception {
        return JSON.readTree(Peers.ok(dir, 60, command).stdout());
    }

    @Test
    void nbdinfoShowsSizeFlagsBlockSizesAndContexts() throws Exception {
        Peers.need("nbdinfo");
        String uri = start(b -> b.export("", new MemoryExport(64 * MIB)).description("a test export")
                .blockSizes(512, 4096, 4 * (int) MIB));
        JsonNode info = json("nbdinfo", "--json", uri);
        assertEquals("newstyle-fixed", info.get("protocol").asText());
        assertTrue(info.get("structured").asBoolean());
        JsonNode e = info.get("exports").get(0);
        assertEquals(64 * MIB, e.get("export-size").asLong());
        assertEquals("a test export", e.get("description").asText());
        assertFalse(e.get("is_read_only").asBoolean());
        for (String can : List.of("can_flush", "can_fua", "can_trim", "can_zero", "can_fast_zero", "can_df",
                "can_cache", "can_multi_conn")) {
            assertTrue(e.get(can).asBoolean(), can + " in " + e);
        }
        assertEquals(512, e.get("block_size_minimum").asInt());
        assertEquals(4096, e.get("block_size_preferred").asInt());
        assertEquals(4 * MIB, e.get("block_size_maximum").asLong());
        assertEquals("base:allocation", e.get("contexts").get(0).asText());
    }

    @Test
    void nbdinfoListShowsEveryExport() throws Exception {
        Peers.need("nbdinfo");
        String uri = start(b -> b.export("one", new MemoryExport(MIB), "first disk")
                .export("two", new MemoryExport(2 * MIB)));
        JsonNode list = json("nbdinfo", "--list", "--json", uri);
        JsonNode exports = list.get("exports");
        assertEquals(2, exports.size(), list.toString());
        assertEquals("one", exports.get(0).get("export-name").asText());
        assertEquals("first disk", exports.get(0).get("description").asText());
        assertEquals(MIB, exports.get(0).get("export-size").asLong());
        assertEquals("two", exports.get(1).get("export-name").asText());
        assertEquals(2 * MIB, exports.get(1).get("export-size").asLong());
    }

    @Test
    void nbdinfoMapFollowsWritesAndTrims() throws Exception {
        Peers.need("nbdinfo");
        List<String> nbdsh = Peers.nbdsh();
        String uri = start(b -> b.export("", new MemoryExport(8 * MIB)));
        Peers.ok(dir, 60, Peers.cmd(nbdsh, "-u", uri, "-c", String.join("\n",
                "h.pwrite(b'\\x55' * 65536, 0)",
                "h.pwrite(b'\\x00' * 65536, 2 * 1048576)", // zeroes written stay allocated
                "h.pwrite(b'\\x66' * 131072, 4 * 1048576)",
                "h.trim(65536, 4 * 1048576)", // back to a hole
                "h.zero(65536, 6 * 1048576)", // without NO_HOLE: deallocates
                "h.zero(65536, 7 * 1048576, nbd.CMD_FLAG_NO_HOLE)", // stays allocated
                "assert h.pread(65536, 0) == b'\\x55' * 65536",
                "assert h.pread(65536, 4 * 1048576 + 65536) == b'\\x66' * 65536",
                "assert h.pread(65536, 4 * 1048576) == bytes(65536)")));
        JsonNode map = json("nbdinfo", "--map", "--json", uri);
        List<String> got = new ArrayList<>();
        for (JsonNode x : map) {
            got.add(x.get("offset").asLong() + "+" + x.get("length").asLong() + ":" + x.get("type").asInt());
        }
        long k64 = 65536;
        assertEquals(List.of("0+" + k64 + ":0", k64 + "+" + (2 * MIB - k64) + ":3",
                2 * MIB + "+" + k64 + ":0", (2 * MIB + k64) + "+" + 2 * MIB + ":3", // the trimmed chunk joins the hole
                (4 * MIB + k64) + "+" + k64 + ":0", (4 * MIB + 2 * k64) + "+" + (3 * MIB - 2 * k64) + ":3",
                7 * MIB + "+" + k64 + ":0", (7 * MIB + k64) + "+" + (MIB - k64) + ":3"), got);
    }

    @Test
    void nbdcopyInAndOutOverSeveralConnections() throws Exception {
        Peers.need("nbdcopy");
        int size = 12 * (int) MIB;
        byte[] content = new byte[size];
        new Random(42).nextBytes(content);
        java.util.Arrays.fill(content, 3 * (int) MIB, 5 * (int) MIB, (byte) 0); // a run of zeroes nbdcopy may skip
        Path in = dir.resolve("in.img");
        Files.write(in, content);
        String uri = start(b -> b.export("", new MemoryExport(size)));
        Peers.ok(dir, 120, "nbdcopy", "--connections=4", "--requests=16", in.toString(), uri);
        Path out = dir.resolve("out.img");
        Peers.ok(dir, 120, "nbdcopy", "--connections=2", uri, out.toString());
        assertArrayEquals(content, Files.readAllBytes(out));
    }

    @Test
    void qemuImgCompareAgreesWithTheSourceFile() throws Exception {
        Peers.need("qemu-img");
        int size = 4 * (int) MIB;
        byte[] content = new byte[size];
        new Random(7).nextBytes(content);
        Path img = dir.resolve("disk.img");
        Files.write(img, content);
        String uri = start(b -> b.export("", new MemoryExport(size)));
        Peers.ok(dir, 120, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", img.toString(), uri);
        Peers.ok(dir, 120, "qemu-img", "compare", "-f", "raw", "-F", "raw", img.toString(), uri);
        content[size - 1] ^= 1;
        Files.write(img, content);
        Peers.Result differ = Peers.run(dir, 120, "qemu-img", "compare", "-f", "raw", "-F", "raw", img.toString(),
                uri);
        assertEquals(1, differ.exitCode(), differ.all());
    }

    @Test
    void qemuIoWritesAndReadsAPattern() throws Exception {
        Peers.need("qemu-io");
        String uri = start(b -> b.export("", new MemoryExport(16 * MIB)));
        Peers.Result r = Peers.ok(dir, 60, "qemu-io", "-f", "raw", "-c", "write -P 0x55 0 64k",
                "-c", "read -P 0x55 0 64k", "-c", "write -z 1M 64k", "-c", "read -P 0 1M 64k",
                "-c", "discard 0 64k", "-c", "read -P 0 0 64k", uri);
        assertTrue(r.stdout().contains("wrote 65536/65536 bytes at offset 0"), r.all());
        assertTrue(r.stdout().contains("read 65536/65536 bytes at offset 0"), r.all());
        assertFalse(r.all().contains("Pattern verification failed"), r.all());
    }

    @Test
    void fioRandomReadWriteVerifies() throws Exception {
        Peers.need("fio");
        String uri = start(b -> b.export("", new MemoryExport(16 * MIB)));
        Peers.Result r = Peers.ok(dir, 120, "fio", "--ioengine=nbd", "--uri=" + uri, "--rw=randrw", "--bs=4k",
                "--size=4M", "--iodepth=16", "--name=x", "--verify=crc32c", "--verify_fatal=1", "--runtime=20");
        assertFalse(r.all().contains("verify: bad"), r.all());
        assertTrue(r.stdout().contains("WRITE:"), r.all());
    }

    @Test
    void readOnlyExportRefusesWrites() throws Exception {
        Peers.need("nbdinfo", "qemu-io");
        String uri = start(b -> b.export("", new MemoryExport(MIB)).readOnly(true));
        JsonNode e = json("nbdinfo", "--json", uri).get("exports").get(0);
        assertTrue(e.get("is_read_only").asBoolean());
        assertFalse(e.get("can_trim").asBoolean());
        Peers.Result r = Peers.run(dir, 60, "qemu-io", "-f", "raw", "-c", "write -P 0x55 0 4k", uri);
        // qemu opens read-write by default and is refused at open ("Permission denied", from EPERM).
        assertNotEquals(0, r.exitCode(), r.all());
        assertTrue(r.all().contains("Permission denied") || r.all().contains("Operation not permitted")
                || r.all().contains("read-only") || r.all().contains("read only"), r.all());
        // The server's own EPERM (a client that writes anyway) is checked in NbdServerRawClientTest.
    }

    @Test
    void unknownExportIsRefused() throws Exception {
        Peers.need("nbdinfo");
        start(b -> b.export("disk", new MemoryExport(MIB)));
        Peers.Result r = Peers.run(dir, 60, "nbdinfo", uri("nope"));
        assertNotEquals(0, r.exitCode());
        assertTrue(r.stderr().contains("nope"), r.all());
        Peers.ok(dir, 60, "nbdinfo", uri("disk"));
    }

    @Test
    void oldstyleHandshake() throws Exception {
        Peers.need("nbdinfo");
        List<String> nbdsh = Peers.nbdsh();
        String uri = start(b -> b.export("", new MemoryExport(3 * MIB)).oldstyle(true));
        JsonNode info = json("nbdinfo", "--json", uri);
        assertEquals("oldstyle", info.get("protocol").asText());
        assertFalse(info.get("structured").asBoolean());
        assertEquals(3 * MIB, info.get("exports").get(0).get("export-size").asLong());
        Peers.ok(dir, 60, Peers.cmd(nbdsh, "-u", uri, "-c",
                "h.pwrite(b'abc' * 1000, 4096); assert h.pread(3000, 4096) == b'abc' * 1000"));
    }

    @Test
    void withoutStructuredRepliesClientsFallBackToSimpleReplies() throws Exception {
        Peers.need("nbdinfo", "nbdcopy");
        String uri = start(b -> b.export("", new MemoryExport(4 * MIB)).structuredReplies(false));
        JsonNode info = json("nbdinfo", "--json", uri);
        assertFalse(info.get("structured").asBoolean());
        assertFalse(info.get("exports").get(0).get("can_df").asBoolean());
        byte[] content = new byte[4 * (int) MIB];
        new Random(3).nextBytes(content);
        Path in = dir.resolve("in.img");
        Files.write(in, content);
        Peers.ok(dir, 120, "nbdcopy", in.toString(), uri);
        Path out = dir.resolve("out.img");
        Peers.ok(dir, 120, "nbdcopy", uri, out.toString());
        assertArrayEquals(content, Files.readAllBytes(out));
    }

    @Test
    void fileExportWritesReachTheFile() throws Exception {
        Peers.need("qemu-io", "nbdinfo");
        Path file = dir.resolve("backing.img");
        Files.write(file, new byte[(int) MIB]);
        FileExport export = new FileExport(file, false);
        String uri = start(b -> b.export("", export));
        Peers.ok(dir, 60, "qemu-io", "-f", "raw", "-c", "write -P 0xab 4k 8k", "-c", "write -f -P 0xcd 64k 4k",
                "-c", "flush", "-c", "read -P 0xab 4k 8k", uri);
        byte[] bytes = Files.readAllBytes(file);
        assertEquals((byte) 0xab, bytes[4096]);
        assertEquals((byte) 0xab, bytes[12287]);
        assertEquals(0, bytes[12288]);
        assertEquals((byte) 0xcd, bytes[65536]);
        JsonNode map = json("nbdinfo", "--map", "--json", uri);
        assertEquals(1, map.size(), "a file export reports everything allocated: " + map);
        assertEquals(0, map.get(0).get("type").asInt());
    }

    @Test
    void servesAnAlreadyConnectedChannel() throws Exception {
        Peers.need("nbdinfo");
        server = NbdServer.builder().export("", new MemoryExport(2 * MIB)).build();
        socket = dir.resolve("own.sock");
        // Our own listener accepts; each accepted (registered, active) channel is handed to the server.
        boolean epoll = Epoll.isAvailable();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1,
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        try {
            Channel listener = new ServerBootstrap().group(group)
                    .channel(epoll ? EpollServerDomainSocketChannel.class : NioServerDomainSocketChannel.class)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            server.serve(ch);
                        }
                    })
                    .bind(epoll ? new DomainSocketAddress(socket.toString()) : UnixDomainSocketAddress.of(socket))
                    .sync().channel();
            JsonNode info = json("nbdinfo", "--json", uri(""));
            assertEquals(2 * MIB, info.get("exports").get(0).get("export-size").asLong());
            listener.close().sync();
        } finally {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).sync();
        }
    }
}
