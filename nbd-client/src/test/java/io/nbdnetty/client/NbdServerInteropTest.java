package io.nbdnetty.client;

import io.nbdnetty.testing.peers.PeerClients;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.bytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client against nbd-server 3.24, the reference server: simple replies only.
 *
 * <p>Quirk: nbd-server answers NBD_OPT_INFO with an export size of 0; NBD_OPT_GO reports the real size. The client
 * reports what the server said in each case (see {@link #optModeListInfoGoAndTheInfoSizeQuirk()}).
 */
class NbdServerInteropTest {
    private static final long SIZE = 4L << 20;

    @TempDir
    Path tmp;

    private Path image() throws Exception {
        Path img = tmp.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        return img;
    }

    private PeerServer server(Path img) {
        return PeerServer.nbdServer(img, "disk", "flush = true", "trim = true", "fua = true");
    }

    @Test
    void fullHandshakeSimpleRepliesWriteReadFlushTrim() throws Exception {
        Path img = image();
        try (PeerServer server = server(img);
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().exportName("disk")
                     .addMetaContext("base:allocation").build())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            assertEquals("newstyle-fixed", h.protocol());
            assertFalse(h.structuredRepliesNegotiated());
            assertFalse(h.extendedHeadersNegotiated());
            assertEquals(NbdReplyStyle.SIMPLE, c.replyStyle());
            assertTrue(c.metaContexts().isEmpty(), "no structured replies, so no contexts");
            assertEquals(SIZE, c.size());
            assertTrue(c.exportInfo().canFlush());
            assertTrue(c.exportInfo().canTrim());
            assertFalse(c.exportInfo().isReadOnly());

            byte[] data = new byte[128 << 10];
            new Random(3).nextBytes(data);
            await(c.write(1 << 20, Unpooled.wrappedBuffer(data)));
            await(c.flush());
            assertArrayEquals(data, bytes(await(c.read(1 << 20, data.length))));
            ByteBuf dst = Unpooled.buffer(data.length);
            await(c.read(1 << 20, dst, data.length, 0));
            assertArrayEquals(data, bytes(dst));
            // Several reads in flight at once, replies matched by cookie.
            List<CompletableFuture<ByteBuf>> reads = new java.util.ArrayList<>();
            for (int i = 0; i < 32; i++) {
                reads.add(c.read((1 << 20) + i * 4096L, 4096));
            }
            for (int i = 0; i < 32; i++) {
                assertArrayEquals(Arrays.copyOfRange(data, i * 4096, (i + 1) * 4096), bytes(await(reads.get(i))));
            }
            await(c.trim(1 << 20, 64 << 10, 0));
            await(c.flush());
            // The file on disk has what was written (and stays the right size).
            byte[] onDisk = Files.readAllBytes(img);
            assertEquals(SIZE, onDisk.length);
            assertArrayEquals(Arrays.copyOfRange(data, 64 << 10, data.length),
                    Arrays.copyOfRange(onDisk, (1 << 20) + (64 << 10), (1 << 20) + data.length));
            await(c.disconnect());
            assertEquals(NbdState.CLOSED, h.state());
        }
    }

    @Test
    void optModeListInfoGoAndTheInfoSizeQuirk() throws Exception {
        try (PeerServer server = server(image());
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().exportName("disk").optMode(true).build())) {
            long nbdinfoSize = PeerClients.nbdinfo("--size", server.uri()).assertSuccess().stdout().trim()
                    .lines().findFirst().map(Long::parseLong).orElseThrow();
            assertEquals(SIZE, nbdinfoSize);
            assertEquals(0, PeerClients.nbdinfoJson(server.uri()).assertSuccess().jsonNumber("export-size"),
                    "nbdinfo --json shows the same OPT_INFO quirk");

            h.connect(UnixSockets.connect(server.socketPath()));
            await(h.negotiatingFuture());
            assertFalse(h.structuredRepliesNegotiated(), "nbd-server refuses structured replies");
            List<NbdExportEntry> exports = await(h.optList());
            assertEquals(List.of("disk"), exports.stream().map(NbdExportEntry::name).toList());

            NbdExportInfo info = await(h.optInfo());
            assertEquals(0, info.size(), "nbd-server 3.24 reports size 0 to NBD_OPT_INFO");
            assertEquals(info, h.exportInfo());
            assertEquals(NbdState.NEGOTIATING, h.state());

            NbdConnection c = await(h.optGo());
            assertEquals(SIZE, c.size(), "NBD_OPT_GO reports the real size");
            assertEquals(SIZE, h.exportInfo().size(), "exportInfo() is replaced by what GO said");
            assertEquals(4, bytes(await(c.read(SIZE - 4, 4))).length);
        }
    }

    @Test
    void optAbortAgainstNbdServer() throws Exception {
        try (PeerServer server = server(image());
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().optMode(true).build())) {
            CompletableFuture<NbdConnection> ready = h.connect(UnixSockets.connect(server.socketPath()));
            await(h.negotiatingFuture());
            await(h.optAbort());
            assertEquals(NbdState.CLOSED, h.state());
            await(h.closeFuture());
            assertTrue(ready.isCompletedExceptionally());
        }
    }

    @Test
    void unknownExportIsAnOptionErrorAndTheHandleStaysNegotiating() throws Exception {
        try (PeerServer server = server(image());
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().exportName("nope").optMode(true).build())) {
            h.connect(UnixSockets.connect(server.socketPath()));
            await(h.negotiatingFuture());
            java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
                    java.util.concurrent.ExecutionException.class, () -> await(h.optGo()));
            NbdOptionException oe = org.junit.jupiter.api.Assertions.assertInstanceOf(NbdOptionException.class,
                    e.getCause());
            assertTrue(oe.replyType().isError());
            assertEquals(NbdState.NEGOTIATING, h.state());
            h.setExportName("disk");
            assertEquals(SIZE, await(h.optGo()).size());
        }
    }
}
