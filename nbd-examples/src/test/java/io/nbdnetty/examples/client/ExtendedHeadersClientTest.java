package io.nbdnetty.examples.client;

import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdCommandException;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdExtent;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdReplyStyle;
import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.codec.NbdErrno;
import io.nbdnetty.examples.server.MemoryExport;
import io.nbdnetty.examples.server.NbdServer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client's transmission phase under extended headers (64-bit requests and replies, BLOCK_STATUS_EXT) against the
 * example server, the only peer here that speaks them (libnbd 1.14 and qemu 7.2 do not).
 */
class ExtendedHeadersClientTest {
    private static final long GIB = 1L << 30;
    private static final long SIZE = 12 * GIB;

    @TempDir
    Path dir;
    private NbdServer server;
    private Path socket;

    @BeforeEach
    void start() throws Exception {
        server = NbdServer.builder().export("big", new MemoryExport(SIZE)).build();
        socket = dir.resolve("s.sock");
        server.bind(UnixDomainSocketAddress.of(socket));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private static <V> V await(CompletableFuture<V> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    private NbdHandle handle() {
        return NbdHandle.create(NbdClientConfig.builder().exportName("big")
                .addMetaContext(NbdMetaContext.BASE_ALLOCATION).build());
    }

    private static byte[] bytes(ByteBuf b) {
        try {
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }

    @Test
    void everyCommandBeyond4GiBWithExtendedHeaders() throws Exception {
        try (NbdHandle h = handle()) {
            NbdConnection c = await(h.connectUnix(socket));
            assertEquals(NbdReplyStyle.EXTENDED, c.replyStyle());
            assertTrue(h.extendedHeadersNegotiated());
            assertEquals(SIZE, c.size());
            assertTrue(c.exportInfo().canBlockStatusPayload());

            long at = 5 * GIB + 4096;
            byte[] data = new byte[256 * 1024];
            new Random(7).nextBytes(data);
            await(c.write(at, Unpooled.wrappedBuffer(data), NbdCommandFlags.FUA));
            assertArrayEquals(data, bytes(await(c.read(at, data.length))));
            ByteBuf into = Unpooled.buffer(4096);
            await(c.read(at + 4096, into, 4096, NbdCommandFlags.DF));
            assertArrayEquals(Arrays.copyOfRange(data, 4096, 8192), bytes(into));

            await(c.writeZeroes(at, 4096, NbdCommandFlags.NO_HOLE));
            await(c.cache(at, 65536));
            await(c.flush());
            byte[] back = bytes(await(c.read(at, 8192)));
            assertArrayEquals(new byte[4096], Arrays.copyOf(back, 4096));

            // A read spanning data and holes comes back assembled from several chunks.
            byte[] span = bytes(await(c.read(at - 65536, 65536 + 8192)));
            assertArrayEquals(new byte[65536], Arrays.copyOf(span, 65536));
            assertArrayEquals(Arrays.copyOfRange(data, 4096, 8192),
                    Arrays.copyOfRange(span, 65536 + 4096, 65536 + 8192));

            // 64-bit block status: the hole before the data is longer than 4 GiB, which only BLOCK_STATUS_EXT can say.
            NbdBlockStatus status = await(c.blockStatus(0, SIZE, 0));
            List<NbdExtent> extents = status.extents(NbdMetaContext.BASE_ALLOCATION);
            assertEquals(0, extents.get(0).offset());
            assertTrue(extents.get(0).isHole());
            assertTrue(extents.get(0).length() > 4 * GIB, extents.get(0).toString());
            NbdExtent dataExtent = extents.stream().filter(e -> !e.isHole()).findFirst().orElseThrow();
            assertTrue(dataExtent.offset() <= at && dataExtent.end() >= at + data.length, dataExtent.toString());
            NbdBlockStatus one = await(c.blockStatus(0, SIZE, NbdCommandFlags.REQ_ONE));
            assertEquals(1, one.extents(NbdMetaContext.BASE_ALLOCATION).size());

            await(c.trim(at, data.length, 0));
            // The example server allocates in 64 KiB chunks: the chunks wholly inside the trimmed range are holes.
            long chunk = 64 * 1024;
            long firstWhole = (at + chunk - 1) / chunk * chunk;
            NbdBlockStatus afterTrim = await(c.blockStatus(firstWhole, 3 * chunk, NbdCommandFlags.REQ_ONE));
            assertTrue(afterTrim.extents(NbdMetaContext.BASE_ALLOCATION).get(0).isHole());

            try (NbdHandle lax = NbdHandle.create(NbdClientConfig.builder().exportName("big").strictMode(0).build())) {
                NbdConnection c2 = await(lax.connectUnix(socket));
                ExecutionException beyond = assertThrows(ExecutionException.class,
                        () -> await(c2.read(SIZE - 512, 1024)));
                NbdCommandException ce = assertInstanceOf(NbdCommandException.class, beyond.getCause());
                assertEquals(NbdErrno.EINVAL, ce.error());
                assertTrue(lax.isReady(), "a server error leaves the connection usable");
            }
            await(c.disconnect());
        }
    }

    @Test
    void thousandsOfPipelinedRequestsFromSeveralThreadsUnderExtendedHeaders() throws Exception {
        try (NbdHandle h = handle()) {
            NbdConnection c = await(h.connectUnix(socket));
            List<CompletableFuture<Void>> all = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    for (int i = 0; i < 750; i++) {
                        long off = (id * 750L + i) * 4096 + 7 * GIB;
                        byte fill = (byte) (i + id);
                        byte[] block = new byte[4096];
                        Arrays.fill(block, fill);
                        all.add(c.write(off, Unpooled.wrappedBuffer(block), 0)
                                .thenCompose(x -> c.read(off, 4096, 0)).thenAccept(b -> {
                                    try {
                                        if (b.getByte(0) != fill || b.getByte(4095) != fill) {
                                            throw new AssertionError("wrong data at " + off);
                                        }
                                    } finally {
                                        b.release();
                                    }
                                }));
                    }
                });
                threads.add(th);
                th.start();
            }
            for (Thread th : threads) {
                th.join();
            }
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            assertEquals(6000, c.stats().requestsCompleted());
        }
    }
}
