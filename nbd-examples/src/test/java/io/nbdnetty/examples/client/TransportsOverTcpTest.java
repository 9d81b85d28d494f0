package io.nbdnetty.examples.client;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdEventLoops;
import io.nbdnetty.client.NbdEventLoops.Transport;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdReplyStyle;
import io.nbdnetty.client.NbdState;
import io.nbdnetty.examples.server.MemoryExport;
import io.nbdnetty.examples.server.NbdServer;
import io.nbdnetty.testing.peers.Interop;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The transmission phase over each Netty transport (epoll, io_uring, NIO) against the in-process example server over
 * TCP, with two connections sharing one group (multi-conn). A transport that is not available here skips its case, or
 * fails it under {@code -Dnbd.interop=required}. The handle dials with its group's channel class: a wrong one could
 * not even register on the group.
 */
class TransportsOverTcpTest {
    private static final long SIZE = 64L << 20;

    private NbdServer server;
    private int port;

    @BeforeEach
    void start() throws Exception {
        server = NbdServer.builder().export("disk", new MemoryExport(SIZE)).build();
        InetSocketAddress bound = (InetSocketAddress) server.bind(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        port = bound.getPort();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private static <V> V await(CompletableFuture<V> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    private static byte[] bytes(ByteBuf b) {
        try {
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void writesAndReadsBackOverTcp(Transport t) throws Exception {
        t.unavailabilityCause().ifPresent(c -> Interop.missing("Netty's " + t + " transport is not available here ("
                + c + ")"));
        EventLoopGroup group = NbdEventLoops.newGroup(t, 2);
        NbdClientConfig config = NbdClientConfig.builder().exportName("disk").maxInFlightRequests(32).build();
        try (NbdHandle a = NbdHandle.create(config, group);
             NbdHandle b = NbdHandle.create(config, group)) {
            NbdConnection ca = await(a.connectTcp(InetAddress.getLoopbackAddress().getHostAddress(), port));
            NbdConnection cb = await(b.connect(io.nbdnetty.client.NbdUri.parse("nbd://"
                    + InetAddress.getLoopbackAddress().getHostAddress() + ":" + port + "/disk")));
            assertEquals(SIZE, ca.size());
            assertEquals(NbdReplyStyle.EXTENDED, cb.replyStyle(), "the example server speaks extended headers");

            // Each connection writes its half in 128 KiB requests, all in flight; each reads the other's half.
            byte[] data = new byte[8 << 20];
            new Random(11).nextBytes(data);
            int half = data.length / 2;
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int off = 0; off < data.length; off += 128 << 10) {
                NbdConnection c = off < half ? ca : cb;
                await(c.awaitCapacity());
                writes.add(c.write(off, Unpooled.wrappedBuffer(data, off, 128 << 10)));
            }
            await(CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)));
            await(ca.flush());
            await(cb.flush());
            assertArrayEquals(Arrays.copyOfRange(data, half, data.length), bytes(await(ca.read(half, half))));
            assertArrayEquals(Arrays.copyOfRange(data, 0, half), bytes(await(cb.read(0, half))));

            Random rnd = new Random(12);
            List<CompletableFuture<byte[]>> reads = new ArrayList<>();
            int[] offsets = new int[200];
            for (int i = 0; i < offsets.length; i++) {
                offsets[i] = rnd.nextInt(data.length - 4096);
                NbdConnection c = (i & 1) == 0 ? ca : cb;
                await(c.awaitCapacity());
                reads.add(c.read(offsets[i], 4096).thenApply(TransportsOverTcpTest::bytes));
            }
            for (int i = 0; i < offsets.length; i++) {
                assertArrayEquals(Arrays.copyOfRange(data, offsets[i], offsets[i] + 4096), await(reads.get(i)),
                        "4K read at " + offsets[i]);
            }
            await(ca.writeZeroes(0, 1 << 20, 0));
            assertArrayEquals(new byte[1 << 20], bytes(await(cb.read(0, 1 << 20))));
            await(ca.disconnect());
            await(cb.disconnect());
            assertEquals(NbdState.CLOSED, a.state());
            assertEquals(NbdState.CLOSED, b.state());
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
