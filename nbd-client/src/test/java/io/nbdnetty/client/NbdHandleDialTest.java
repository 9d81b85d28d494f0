package io.nbdnetty.client;

import io.nbdnetty.client.ScriptedServer.Peer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnknownHostException;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static io.nbdnetty.client.TestSupport.assertDead;
import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.fails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Dialling a TCP host by name: every address the lookup returns is tried in turn (as libnbd does with getaddrinfo's
 * list), each within the connect timeout; the lookup runs on a thread of its own, never on an event loop. The lookup
 * is replaced by a fixed list where a test needs several addresses ({@code localhost} has one here).
 */
class NbdHandleDialTest {
    private static final String HOST = "multi.nbd.test";

    /** A server that completes the handshake, then waits for the client to leave. */
    private static void handshakeThenWait(Peer p) throws Exception {
        p.handshake(true);
        p.awaitClientClose();
    }

    /** A lookup that answers with these addresses, recording the thread it ran on. */
    private static NbdHandle.HostResolver fixed(AtomicReference<Thread> ranOn, String... addresses) {
        return host -> {
            ranOn.set(Thread.currentThread());
            assertEquals(HOST, host);
            InetAddress[] a = new InetAddress[addresses.length];
            for (int i = 0; i < a.length; i++) {
                a[i] = InetAddress.getByName(addresses[i]);
            }
            return a;
        };
    }

    /** A loopback port where nothing listens (bound, then closed at once). */
    private static int freePort() throws IOException {
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.INET)) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return ((InetSocketAddress) s.getLocalAddress()).getPort();
        }
    }

    private static List<Thread> nbdNettyThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("nbd-netty"))
                .filter(Thread::isAlive).toList();
    }

    /** The handle threads started since {@code before} that are still alive. */
    private static List<Thread> newNbdNettyThreads(List<Thread> before) {
        return nbdNettyThreads().stream().filter(t -> !before.contains(t)).toList();
    }

    @Test
    void theFirstAddressRefusesTheSecondConnects() throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("dial-test", true),
                NbdEventLoops.isEpoll() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        try (ScriptedServer s = ScriptedServer.startTcp(NbdHandleDialTest::handshakeThenWait)) {
            int port = s.tcpAddress().getPort();   // listening on 127.0.0.1 only: [::1] refuses
            AtomicReference<Thread> lookupThread = new AtomicReference<>();
            try (NbdHandle h = NbdHandle.create(NbdClientConfig.defaults(), group)
                    .resolver(fixed(lookupThread, "::1", "127.0.0.1"))) {
                NbdConnection c = await(h.connectTcp(HOST, port));
                assertEquals(NbdState.READY, h.state());
                Thread t = lookupThread.get();
                assertFalse(group.next().inEventLoop(t), "the lookup ran on the event loop: " + t);
                assertTrue(t.getName().startsWith("nbd-netty-lookup"), t.getName());
                await(c.disconnect());
            }
            s.awaitScript();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /**
     * A listener on [::1] whose accept queue is full: the kernel drops further SYNs, so a connect there neither
     * succeeds nor fails until a timeout.
     */
    private static final class Silent implements AutoCloseable {
        final ServerSocketChannel server;
        final List<Socket> queued = new ArrayList<>();

        Silent(int port) throws IOException {
            server = ServerSocketChannel.open(StandardProtocolFamily.INET6);
            boolean full = false;
            try {
                server.bind(new InetSocketAddress(InetAddress.getByName("::1"), port), 1);
                for (int i = 0; i < 64 && !full; i++) {
                    Socket probe = new Socket();
                    queued.add(probe);
                    try {
                        probe.connect(server.getLocalAddress(), 300);
                    } catch (SocketTimeoutException e) {
                        full = true;
                    }
                }
            } finally {
                if (!full) {
                    close();
                }
            }
            assumeTrue(full, "this kernel does not leave connects hanging on a full accept queue");
        }

        int port() throws IOException {
            return ((InetSocketAddress) server.getLocalAddress()).getPort();
        }

        @Override
        public void close() throws IOException {
            for (Socket q : queued) {
                q.close();
            }
            server.close();
        }
    }

    @Test
    void anAddressThatDoesNotAnswerIsGivenUpAfterTheConnectTimeout() throws Exception {
        try (ScriptedServer s = ScriptedServer.startTcp(NbdHandleDialTest::handshakeThenWait);
             Silent silent = new Silent(s.tcpAddress().getPort())) {
            AtomicReference<Thread> lookupThread = new AtomicReference<>();
            // Without a connect timeout of its own the first attempt would outlast the test's wait.
            NbdClientConfig config = NbdClientConfig.builder().connectTimeout(Duration.ofMillis(300)).build();
            try (NbdHandle h = NbdHandle.create(config).resolver(fixed(lookupThread, "::1", "127.0.0.1"))) {
                NbdConnection c = await(h.connectTcp(HOST, silent.port()));
                assertEquals(NbdState.READY, h.state());
                await(c.disconnect());
            }
            s.awaitScript();
        }
    }

    @Test
    void closingDuringAConnectThatDoesNotAnswerAbortsIt() throws Exception {
        try (Silent silent = new Silent(0)) {
            List<Thread> before = nbdNettyThreads();
            // No connect timeout: only the close can end this attempt.
            NbdClientConfig config = NbdClientConfig.builder().connectTimeout(Duration.ZERO).build();
            CompletableFuture<Thread> lookupThread = new CompletableFuture<>();
            NbdHandle h = NbdHandle.create(config).resolver(host -> {
                lookupThread.complete(Thread.currentThread());
                return new InetAddress[] {InetAddress.getByName("::1"), InetAddress.getLoopbackAddress()};
            });
            CompletableFuture<NbdConnection> ready = h.connectTcp(HOST, silent.port());
            // The lookup thread starts the first connect before it ends: once it has ended, that connect hangs.
            await(lookupThread).join(TimeUnit.SECONDS.toMillis(20));
            assertEquals(NbdState.CONNECTING, h.state());
            assertFalse(ready.isDone());
            h.close();
            fails(NbdConnectionClosedException.class, ready);
            await(h.closeFuture());
            assertEquals(NbdState.CLOSED, h.state());
            assertEquals(List.of(), newNbdNettyThreads(before), "no thread of the handle is left");
        }
    }

    @Test
    void whenEveryAddressFailsTheErrorNamesTheHostPortAndEachFailure() throws Exception {
        int port = freePort();
        AtomicReference<Thread> lookupThread = new AtomicReference<>();
        try (NbdHandle h = NbdHandle.create().resolver(fixed(lookupThread, "::1", "127.0.0.1"))) {
            CompletableFuture<NbdConnection> ready = h.connectTcp(HOST, port);
            NbdConnectionClosedException e = fails(NbdConnectionClosedException.class, ready);
            String m = e.getMessage();
            assertTrue(m.startsWith("cannot connect to " + HOST + ":" + port + ": all 2 of its addresses failed: "),
                    m);
            assertTrue(m.contains("[::1]:" + port + ": "), m);
            assertTrue(m.contains("127.0.0.1:" + port + ": "), m);
            assertTrue(m.indexOf("[::1]:" + port) < m.indexOf("127.0.0.1:" + port), "in the order tried: " + m);
            Throwable[] each = e.getSuppressed();
            assertEquals(2, each.length, Arrays.toString(each));
            assertTrue(each[0].getMessage().startsWith("[::1]:" + port + ": "), each[0].getMessage());
            assertTrue(each[1].getMessage().startsWith("127.0.0.1:" + port + ": "), each[1].getMessage());
            assertInstanceOf(java.net.ConnectException.class, each[0].getCause(), () -> "" + each[0].getCause());
            assertInstanceOf(java.net.ConnectException.class, e.getCause(), () -> "" + e.getCause());
            assertDead(h);
            fails(NbdConnectionClosedException.class, h.negotiatingFuture());
        }
    }

    @Test
    void aNameThatCannotBeResolvedKillsTheHandleWithTheLookupError() throws Exception {
        try (NbdHandle h = NbdHandle.create().resolver(host -> {
            throw new UnknownHostException(host + ": Name or service not known");
        })) {
            NbdConnectionClosedException e = fails(NbdConnectionClosedException.class, h.connectTcp(HOST, 10809));
            assertEquals("cannot connect to " + HOST + ":10809: cannot resolve the host name: " + HOST
                    + ": Name or service not known", e.getMessage());
            assertInstanceOf(UnknownHostException.class, e.getCause());
            assertDead(h);
        }
    }

    @Test
    void closingDuringTheLookupEndsTheHandleWithoutConnecting() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.INET)) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            server.configureBlocking(false);
            int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
            CountDownLatch lookupStarted = new CountDownLatch(1);
            CountDownLatch answer = new CountDownLatch(1);
            AtomicReference<Thread> lookupThread = new AtomicReference<>();
            List<Thread> before = nbdNettyThreads();
            NbdHandle h = NbdHandle.create().resolver(host -> {
                lookupThread.set(Thread.currentThread());
                lookupStarted.countDown();
                try {
                    answer.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return new InetAddress[] {InetAddress.getLoopbackAddress()};
            });
            CompletableFuture<NbdConnection> ready = h.connect(NbdUri.parse("nbd://" + HOST + ":" + port + "/"));
            assertTrue(lookupStarted.await(20, TimeUnit.SECONDS));
            assertEquals(NbdState.CONNECTING, h.state(), "while the name is looked up");
            CompletableFuture<Void> closed = h.closeAsync();
            fails(NbdConnectionClosedException.class, ready);
            assertEquals(NbdState.CLOSED, h.state());
            assertFalse(closed.isDone(), "the lookup thread is still running");
            answer.countDown();
            await(closed);
            assertFalse(lookupThread.get().isAlive());
            assertEquals(List.of(), newNbdNettyThreads(before), "no thread of the handle is left");
            assertNull(server.accept(), "nothing was dialled after the close");
            assertEquals(NbdState.CLOSED, h.state());
        }
    }

    @Test
    void realLookupOfLocalhostByConnectTcpAndByUri() throws Exception {
        for (int round = 0; round < 2; round++) {
            List<Thread> before = nbdNettyThreads();
            try (ScriptedServer s = ScriptedServer.startTcp(NbdHandleDialTest::handshakeThenWait);
                 NbdHandle h = NbdHandle.create()) {
                int port = s.tcpAddress().getPort();
                NbdConnection c = await(round == 0 ? h.connectTcp("localhost", port)
                        : h.connect(NbdUri.parse("nbd://localhost:" + port + "/")));
                assertEquals(NbdState.READY, h.state());
                await(c.disconnect());
                await(h.closeFuture());
                assertEquals(List.of(), newNbdNettyThreads(before), "round " + round);
                s.awaitScript();
            }
        }
    }

    @Test
    void anAddressLiteralIsNotLookedUp() throws Exception {
        try (ScriptedServer s = ScriptedServer.startTcp(NbdHandleDialTest::handshakeThenWait);
             NbdHandle h = NbdHandle.create().resolver(host -> {
                 throw new AssertionError("looked up " + host);
             })) {
            NbdConnection c = await(h.connectTcp("127.0.0.1", s.tcpAddress().getPort()));
            await(c.disconnect());
            s.awaitScript();
        }
        int port = freePort();
        try (NbdHandle h = NbdHandle.create()) {
            NbdConnectionClosedException e = fails(NbdConnectionClosedException.class, h.connectTcp("::1", port));
            assertTrue(e.getMessage().startsWith("cannot connect to [::1]:" + port + ": "), e.getMessage());
            assertDead(h);
        }
    }
}
