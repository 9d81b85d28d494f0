package io.nbdnetty.client;

import io.nbdnetty.client.NbdEventLoops.Transport;
import io.nbdnetty.testing.peers.Interop;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.Socket;
import io.netty.channel.uring.IoUringDomainSocketChannel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.bytes;
import static io.nbdnetty.client.TestSupport.fails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The transmission phase over each Netty transport ({@link NbdEventLoops#newGroup(Transport, int)}) against nbdkit on
 * a Unix socket, and what io_uring cannot do (adopt a descriptor or a java.nio channel). A transport that is not
 * available here skips its test, or fails it under {@code -Dnbd.interop=required}.
 */
class TransportInteropTest {

    /** Skips (auto) or fails (required) the test when the transport cannot be used here. */
    static void requireTransport(Transport t) {
        t.unavailabilityCause().ifPresent(c -> Interop.missing("Netty's " + t + " transport is not available here ("
                + c + ")"));
    }

    private static Class<? extends Channel> unixChannelOf(Transport t) {
        switch (t) {
            case EPOLL:
                return EpollDomainSocketChannel.class;
            case IO_URING:
                return IoUringDomainSocketChannel.class;
            default:
                return NioDomainSocketChannel.class;
        }
    }

    private static void shutdown(EventLoopGroup group) {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void everyCommandAgainstNbdkitMemory(Transport t) throws Exception {
        requireTransport(t);
        assertTrue(t.isAvailable());
        EventLoopGroup group = NbdEventLoops.newGroup(t, 1);
        try (PeerServer server = PeerServer.nbdkit("memory", "size=64M").start();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().addMetaContext("base:allocation")
                     .maxInFlightRequests(64).build(), group)) {
            NbdConnection c = await(h.connectUnix(server.socketPath()));
            assertInstanceOf(unixChannelOf(t), h.channel());
            assertSame(group, h.channel().eventLoop().parent());
            assertEquals(64L << 20, c.size());
            assertEquals(NbdReplyStyle.STRUCTURED, c.replyStyle());

            // Large writes and reads (several socket reads per reply), then many small ones in flight at once.
            byte[] data = new byte[4 << 20];
            new Random(7).nextBytes(data);
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int off = 0; off < data.length; off += 256 << 10) {
                writes.add(c.write(off, Unpooled.wrappedBuffer(data, off, 256 << 10)));
            }
            await(CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)));
            assertArrayEquals(data, bytes(await(c.read(0, data.length))));
            List<CompletableFuture<byte[]>> reads = new ArrayList<>();
            Random rnd = new Random(8);
            int[] offsets = new int[256];
            for (int i = 0; i < offsets.length; i++) {
                offsets[i] = rnd.nextInt(data.length / 4096) * 4096;
                reads.add(c.read(offsets[i], 4096).thenApply(TestSupport::bytes));
            }
            for (int i = 0; i < offsets.length; i++) {
                assertArrayEquals(Arrays.copyOfRange(data, offsets[i], offsets[i] + 4096), await(reads.get(i)),
                        "4K read at " + offsets[i]);
            }

            await(c.flush());
            await(c.writeZeroes(0, 4096, 0));
            assertArrayEquals(new byte[4096], bytes(await(c.read(0, 4096))));
            await(c.trim(8 << 20, 1 << 20, 0));
            NbdBlockStatus status = await(c.blockStatus(32 << 20, 1 << 20, 0));
            assertTrue(status.extents("base:allocation").get(0).isHole(), "untouched memory is a hole");
            assertEquals(0, c.inFlight());
            await(c.disconnect());
            assertEquals(NbdState.CLOSED, h.state());
        } finally {
            shutdown(group);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void dialsAnNbdUnixUriAndReadsPatternDataAtDepth(Transport t) throws Exception {
        requireTransport(t);
        EventLoopGroup group = NbdEventLoops.newGroup(t, 1);
        try (PeerServer server = PeerServer.nbdkit("pattern", "size=64M").readOnly().start();
             NbdHandle h = NbdHandle.create(NbdClientConfig.builder().maxInFlightRequests(16).build(), group)) {
            NbdConnection c = await(h.connect(NbdUri.parse(server.uri())));
            assertInstanceOf(unixChannelOf(t), h.channel());
            // 256 KiB reads, 16 in flight: nbdkit pattern holds each 8-byte word's own offset, big-endian.
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                long offset = (long) i * (256 << 10);
                await(c.awaitCapacity());
                all.add(c.read(offset, 256 << 10).thenAccept(b -> {
                    try {
                        for (int k = 0; k < b.readableBytes(); k += 8) {
                            if (b.getLong(k) != offset + k) {
                                throw new AssertionError("wrong data at " + (offset + k));
                            }
                        }
                    } finally {
                        b.release();
                    }
                }));
            }
            await(CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)));
            assertEquals(64, c.stats().requestsCompleted());
        } finally {
            shutdown(group);
        }
    }

    @Test
    void adoptsAChannelAlreadyConnectedOnAnIoUringGroup() throws Exception {
        requireTransport(Transport.IO_URING);
        EventLoopGroup group = NbdEventLoops.newGroup(Transport.IO_URING, 1);
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").start();
             NbdHandle h = NbdHandle.create()) {
            Channel ch = new Bootstrap().group(group).channel(IoUringDomainSocketChannel.class)
                    .option(ChannelOption.AUTO_READ, false).handler(new ChannelInboundHandlerAdapter())
                    .connect(new DomainSocketAddress(server.socketPath().toString())).sync().channel();
            NbdConnection c = await(h.connect(ch));
            await(c.write(4096, Unpooled.wrappedBuffer(new byte[] {1, 2, 3})));
            assertArrayEquals(new byte[] {1, 2, 3}, bytes(await(c.read(4096, 3))));
            await(c.disconnect());
        } finally {
            shutdown(group);
        }
    }

    @Test
    void anIoUringGroupRefusesADescriptorAndAJavaNioChannelClearly() throws Exception {
        requireTransport(Transport.IO_URING);
        requireTransport(Transport.EPOLL);
        EventLoopGroup group = NbdEventLoops.newGroup(Transport.IO_URING, 1);
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").start();
             NbdHandle h = NbdHandle.create(NbdClientConfig.defaults(), group)) {
            Socket s = Socket.newSocketDomain();
            try {
                s.connect(new DomainSocketAddress(server.socketPath().toString()));
                NbdException e = fails(NbdException.class, h.connect(s.intValue()));
                assertTrue(e.getMessage().contains("io_uring") && e.getMessage().contains("epoll group"),
                        e.getMessage());
            } finally {
                s.close();
            }
            java.nio.channels.SocketChannel sc = UnixSockets.connect(server.socketPath());
            try {
                NbdException e = fails(NbdException.class, h.connect(sc));
                assertTrue(e.getMessage().contains("NIO"), e.getMessage());
            } finally {
                sc.close();
            }
            // Both refusals leave the handle as it was: it still dials.
            assertEquals(NbdState.CREATED, h.state());
            assertNull(h.channel());
            NbdConnection c = await(h.connectUnix(server.socketPath()));
            assertInstanceOf(IoUringDomainSocketChannel.class, h.channel());
            assertEquals(1, bytes(await(c.read(0, 1))).length);
        } finally {
            shutdown(group);
        }
    }

    @Test
    void theDefaultIsEpollOrNioAndNeverIoUring() {
        Transport d = NbdEventLoops.defaultTransport();
        assertFalse(d == Transport.IO_URING);
        assertEquals(NbdEventLoops.isEpoll() ? Transport.EPOLL : Transport.NIO, d);
        assertTrue(Transport.NIO.isAvailable());
        assertEquals(Transport.IO_URING.isAvailable(), io.netty.channel.uring.IoUring.isAvailable());
    }
}
