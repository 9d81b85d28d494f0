package io.nbdnetty.client;

import io.nbdnetty.client.ScriptedServer.Peer;
import io.nbdnetty.client.ScriptedServer.Req;
import io.nbdnetty.codec.NbdHandshakeFlags;
import io.nbdnetty.codec.NbdOffsetDataChunk;
import io.nbdnetty.codec.NbdReplyFlags;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.junit.jupiter.api.Test;

import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.bytes;
import static io.nbdnetty.client.TestSupport.fails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Handle states, close, threads and the ways of handing a connected channel to a handle. No real peers needed. */
class NbdHandleStateTest {

    /** A good server: handshake, then answers READs with bytes equal to (offset + i) until the client leaves. */
    private static void goodServer(Peer p) throws Exception {
        p.handshake(true);
        while (true) {
            Req r;
            try {
                r = p.readRequest();
            } catch (java.io.IOException e) {
                return; // the client went away
            }
            if (r.type() == 2) {
                return; // NBD_CMD_DISC
            }
            byte[] data = new byte[(int) r.length()];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) (r.offset() + i);
            }
            p.send(new NbdOffsetDataChunk(NbdReplyFlags.DONE, r.cookie(), 0, r.offset(), Unpooled.wrappedBuffer(data)));
        }
    }

    private static byte[] expected(long offset, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (offset + i);
        }
        return b;
    }

    private static List<Thread> nbdNettyThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("nbd-netty"))
                .filter(Thread::isAlive).toList();
    }

    @Test
    void connectOnAClosedHandleIsRefusedAndLeavesTheSocketAlone() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(Peer::awaitClientClose)) {
            NbdHandle h = NbdHandle.create();
            h.close();
            assertEquals(NbdState.CLOSED, h.state());
            await(h.closeFuture());
            SocketChannel socket = s.connect();
            try {
                NbdStateException e = fails(NbdStateException.class, h.connect(socket));
                assertEquals(NbdState.CLOSED, e.state());
                assertTrue(socket.isOpen(), "a refused connect does not take the socket");
                assertEquals(NbdState.CLOSED, h.state());
                fails(NbdStateException.class, h.connect(0));
            } finally {
                socket.close();
            }
            s.awaitScript();
        }
    }

    @Test
    void closeDuringTheHandshakeFailsReadyAndEndsClosed() throws Exception {
        CompletableFuture<Void> clientFlagsSeen = new CompletableFuture<>();
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.ALL);
            p.readClientFlags();
            p.readOption();
            clientFlagsSeen.complete(null);
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create()) {
            CompletableFuture<NbdConnection> ready = h.connect(s.connect());
            await(clientFlagsSeen);
            assertEquals(NbdState.CONNECTING, h.state());
            h.close();
            fails(NbdConnectionClosedException.class, ready);
            fails(NbdConnectionClosedException.class, h.negotiatingFuture());
            assertEquals(NbdState.CLOSED, h.state());
            assertTrue(h.closeFuture().isDone());
            s.awaitScript();
        }
    }

    @Test
    void closeLeavesNoEventLoopThreadBehind() throws Exception {
        AtomicReference<Thread> loop = new AtomicReference<>();
        try (ScriptedServer s = ScriptedServer.start(NbdHandleStateTest::goodServer)) {
            // The listener runs on the event loop (a callback added to the future may run on this thread instead,
            // if the future completed first).
            NbdHandle h = NbdHandle.create(NbdClientConfig.builder().listener(new NbdListener() {
                @Override
                public void requestCompleted(io.nbdnetty.codec.NbdCommandType command, long offset, long length,
                        long latencyNanos, Throwable error) {
                    loop.set(Thread.currentThread());
                }
            }).build());
            NbdConnection c = await(h.connect(s.connect()));
            assertArrayEquals(expected(5, 10), bytes(await(c.read(5, 10))));
            assertTrue(loop.get().getName().startsWith("nbd-netty"), loop.get().getName());
            h.close();
            assertEquals(NbdState.CLOSED, h.state());
            loop.get().join(5000);
            assertFalse(loop.get().isAlive(), "the handle's private event loop thread ended");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!nbdNettyThreads().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertEquals(List.of(), nbdNettyThreads());
            s.awaitScript();
        }
    }

    @Test
    void closeFutureCompletesOnlyAfterThePrivateEventLoopThreadHasExited() throws Exception {
        // Several rounds: the thread used to outlive closeFuture by a moment, so one round could pass by luck.
        for (int round = 0; round < 20; round++) {
            AtomicReference<Thread> loop = new AtomicReference<>();
            try (ScriptedServer s = ScriptedServer.start(NbdHandleStateTest::goodServer)) {
                NbdHandle h = NbdHandle.create(NbdClientConfig.builder().listener(new NbdListener() {
                    @Override
                    public void requestCompleted(io.nbdnetty.codec.NbdCommandType command, long offset,
                            long length, long latencyNanos, Throwable error) {
                        loop.set(Thread.currentThread());
                    }
                }).build());
                NbdConnection c = await(h.connect(s.connect()));
                assertArrayEquals(expected(3, 4), bytes(await(c.read(3, 4))));
                Thread thread = loop.get();
                assertTrue(thread.getName().startsWith("nbd-netty"), thread.getName());
                // No polling and no join: once closeFuture is complete, the thread must already be gone.
                await(h.closeAsync());
                assertFalse(thread.isAlive(), "round " + round + ": the private event loop thread is still alive");
                s.awaitScript();
            }
        }
    }

    @Test
    void closeFromTheEventLoopItselfDoesNotWaitForItsOwnTermination() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(NbdHandleStateTest::goodServer)) {
            NbdHandle h = NbdHandle.create();
            NbdConnection c = await(h.connect(s.connect()));
            // close() on the handle's own event loop thread returns at once (waiting there would never end). Run on
            // the loop explicitly: a read already complete when thenApply is attached would run it on this thread.
            CompletableFuture<Thread> closedOn = c.read(0, 1).thenApplyAsync(b -> {
                b.release();
                h.close();
                return Thread.currentThread();
            }, c.eventLoop());
            Thread loop = await(closedOn);
            assertTrue(loop.getName().startsWith("nbd-netty"), loop.getName());
            await(h.closeFuture());
            assertEquals(NbdState.CLOSED, h.state());
            assertFalse(loop.isAlive());
            s.awaitScript();
        }
    }

    @Test
    void optCallsInTheWrongStateFailWithNbdStateException() throws Exception {
        NbdHandle fresh = NbdHandle.create(NbdClientConfig.builder().optMode(true).build());
        assertEquals(NbdState.CREATED, fails(NbdStateException.class, fresh.optList()).state());
        fails(NbdStateException.class, fresh.optGo());
        fails(NbdStateException.class, fresh.optInfo());
        fails(NbdStateException.class, fresh.optAbort());
        fails(NbdStateException.class, fresh.optStructuredReply());
        fails(NbdStateException.class, fresh.optSetMetaContexts(List.of("base:allocation")));
        fresh.setExportName("allowed-when-created");
        assertEquals("allowed-when-created", fresh.exportName());
        fresh.close();
        assertEquals(NbdState.CLOSED, fresh.state());
        assertThrows(NbdStateException.class, () -> fresh.setExportName("x"));

        try (ScriptedServer s = ScriptedServer.start(NbdHandleStateTest::goodServer);
             NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(s.connect()));
            assertEquals(NbdState.READY, fails(NbdStateException.class, h.optGo()).state());
            fails(NbdStateException.class, h.optListMetaContexts(List.of()));
            NbdStateException se = assertThrows(NbdStateException.class, () -> h.setExportName("x"));
            assertEquals(NbdState.READY, se.state());
            assertThrows(NbdStateException.class, () -> h.setMetaContexts(List.of("base:allocation")));
            assertEquals(NbdState.READY, h.state(), "refused calls change nothing");
            assertArrayEquals(expected(0, 3), bytes(await(c.read(0, 3))));
            await(c.disconnect());
            assertEquals(NbdState.CLOSED, h.state());
            fails(NbdStateException.class, h.optList());
            s.awaitScript();
        }
    }

    @Test
    void optModeWithoutAHandshakeInProgressIsRefused() throws Exception {
        // Not opt mode: the handle never stops at NEGOTIATING, so opt calls are refused while connecting too.
        CompletableFuture<Void> greeted = new CompletableFuture<>();
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.greeting(NbdHandshakeFlags.ALL);
            p.readClientFlags();
            p.readOption();
            greeted.complete(null);
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create()) {
            h.connect(s.connect());
            await(greeted);
            assertEquals(NbdState.CONNECTING, fails(NbdStateException.class, h.optList()).state());
            h.close();
            s.awaitScript();
        }
    }

    @Test
    void unregisteredNioSocketChannelOverTcpIsRegisteredOnTheCallersGroup() throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (ScriptedServer s = ScriptedServer.startTcp(NbdHandleStateTest::goodServer)) {
            NioSocketChannel ch = new NioSocketChannel(s.connect());
            assertFalse(ch.isRegistered());
            try (NbdHandle h = NbdHandle.create(NbdClientConfig.defaults(), group)) {
                NbdConnection c = await(h.connect(ch));
                assertSame(group, ch.eventLoop().parent());
                assertArrayEquals(expected(100, 50), bytes(await(c.read(100, 50))));
            }
            assertFalse(ch.isOpen(), "the handle closed the channel it owned");
            assertFalse(group.isShuttingDown(), "a caller's group is left running");
            s.awaitScript();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void unregisteredNioDomainSocketChannelGetsAPrivateGroup() throws Exception {
        try (ScriptedServer s = ScriptedServer.start(NbdHandleStateTest::goodServer);
             NbdHandle h = NbdHandle.create()) {
            NioDomainSocketChannel ch = new NioDomainSocketChannel(s.connect());
            NbdConnection c = await(h.connect(ch));
            assertTrue(ch.isRegistered());
            assertArrayEquals(expected(7, 7), bytes(await(c.read(7, 7))));
            h.close();
            s.awaitScript();
        }
    }

    @Test
    void channelAlreadyRegisteredOnTheCallersGroupWithAutoReadOff() throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (ScriptedServer s = ScriptedServer.startTcp(NbdHandleStateTest::goodServer)) {
            // AUTO_READ off, so that the server's greeting waits in the socket until the handle takes over.
            Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .option(ChannelOption.AUTO_READ, false).handler(new ChannelInboundHandlerAdapter())
                    .connect(s.tcpAddress()).sync().channel();
            assertTrue(ch.isRegistered() && ch.isActive());
            try (NbdHandle h = NbdHandle.create(NbdClientConfig.builder()
                    .handshakeTimeout(java.time.Duration.ofSeconds(5)).build(), group)) {
                NbdConnection c = await(h.connect(ch));
                assertArrayEquals(expected(1, 20), bytes(await(c.read(1, 20))));
            }
            assertFalse(ch.isOpen());
            s.awaitScript();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}
