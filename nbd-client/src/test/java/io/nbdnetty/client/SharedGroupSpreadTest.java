package io.nbdnetty.client;

import io.nbdnetty.client.NbdEventLoops.Transport;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.nbdnetty.client.TestSupport.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Connections that share an event loop group are spread over all its loops, one after the other, as Netty's
 * round-robin does for anything registered on a group: over TCP and Unix sockets, on each transport, with two and
 * three loops. Finding the transport of a group must not take a loop from the round-robin: once it did
 * ({@code IoEventLoopGroup.isIoType} asks {@code next()}), and every TCP connection of a two-loop group, and every
 * Unix-socket connection of a three-loop one, ended up on the same loop while the others did nothing.
 */
class SharedGroupSpreadTest {

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Transport t : Transport.values()) {
            for (boolean tcp : new boolean[] {true, false}) {
                for (int loops : new int[] {2, 3}) {
                    out.add(Arguments.of(t, tcp, loops));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}, tcp={1}, {2} loops")
    @MethodSource("cases")
    void connectionsTakeTheLoopsInTurn(Transport t, boolean tcp, int loops) throws Exception {
        TransportInteropTest.requireTransport(t);
        int n = 2 * loops;
        EventLoopGroup group = NbdEventLoops.newGroup(t, loops);
        List<ScriptedServer> servers = new ArrayList<>();
        List<NbdHandle> handles = new ArrayList<>();
        try {
            Map<EventLoop, Integer> perLoop = new HashMap<>();
            for (EventExecutor e : group) {
                perLoop.put((EventLoop) e, 0);
            }
            for (int i = 0; i < n; i++) {
                ScriptedServer s = tcp ? ScriptedServer.startTcp(SharedGroupSpreadTest::handshakeThenWait)
                        : ScriptedServer.start(SharedGroupSpreadTest::handshakeThenWait);
                servers.add(s);
                NbdHandle h = NbdHandle.create(NbdClientConfig.defaults(), group);
                handles.add(h);
                await(tcp ? h.connectTcp("127.0.0.1", s.tcpAddress().getPort()) : h.connectUnix(s.socketPath()));
                perLoop.merge(h.channel().eventLoop(), 1, Integer::sum);
            }
            assertEquals(loops, perLoop.size(), "a connection on a loop outside the group: " + perLoop);
            for (Map.Entry<EventLoop, Integer> e : perLoop.entrySet()) {
                assertEquals(2, e.getValue(), n + " connections on " + loops + " loops should be 2 per loop, "
                        + "but were " + perLoop.values());
            }
        } finally {
            for (NbdHandle h : handles) {
                h.close();
            }
            for (ScriptedServer s : servers) {
                s.close();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static void handshakeThenWait(ScriptedServer.Peer p) throws Exception {
        p.handshake(true);
        p.awaitClientClose();
    }
}
