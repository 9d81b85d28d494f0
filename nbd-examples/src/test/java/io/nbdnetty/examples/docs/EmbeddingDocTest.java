package io.nbdnetty.examples.docs;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdListener;
import io.nbdnetty.codec.NbdCommandType;
import io.nbdnetty.testing.peers.PeerServer;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The code of docs/embedding.md: shared event loops, shutdown, timeouts, listeners, threads. */
@Timeout(120)
class EmbeddingDocTest {

    private static List<Thread> nbdNettyThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                .filter(t -> t.getName().startsWith("nbd-netty")).toList();
    }

    @Test
    void sharedEventLoopGroup() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=16M").start()) {
            Path socketPath = server.socketPath();
            // tag::shared[]
            // Your application's group: NIO, since handles adopt java.nio SocketChannels through NIO.
            EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
            try {
                NbdClientConfig config = NbdClientConfig.builder()
                        .handshakeTimeout(Duration.ofSeconds(10))   // default 30 s; ZERO: none
                        .requestTimeout(Duration.ofSeconds(30))     // default ZERO: wait for ever
                        .build();
                List<NbdHandle> handles = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    NbdHandle handle = NbdHandle.create(config, group);  // registers on group, never shuts it down
                    handles.add(handle);
                    handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(socketPath)));
                }
                for (NbdHandle handle : handles) {
                    NbdConnection conn = handle.readyFuture().get();
                    conn.write(0, Unpooled.wrappedBuffer(new byte[512])).get();
                    conn.disconnect().get();
                    handle.close();
                }
            } finally {
                group.shutdownGracefully(0, 2, TimeUnit.SECONDS).sync();   // the group is yours to stop
            }
            // end::shared[]
        }
    }

    @Test
    void listener() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=16M").start()) {
            Path socketPath = server.socketPath();
            // tag::listener[]
            LongAdder completed = new LongAdder();
            LongAdder failed = new LongAdder();
            LongAdder nanos = new LongAdder();
            NbdListener metrics = new NbdListener() {          // called on the event loop: be quick
                @Override
                public void requestCompleted(NbdCommandType command, long offset, long length, long latencyNanos,
                        Throwable error) {
                    (error == null ? completed : failed).increment();
                    nanos.add(latencyNanos);
                }

                @Override
                public void connectionClosed(Throwable cause) {
                    System.out.println("connection ended: " + cause.getMessage());
                }
            };
            NbdClientConfig config = NbdClientConfig.builder().listener(metrics).build();
            try (NbdHandle handle = NbdHandle.create(config)) {
                NbdConnection conn = handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(socketPath))).get();
                for (int i = 0; i < 100; i++) {
                    conn.write(i * 4096L, Unpooled.wrappedBuffer(new byte[4096])).get();
                }
                conn.disconnect().get();
            }
            System.out.printf("%d ok, %d failed, mean %.1f us%n", completed.sum(), failed.sum(),
                    nanos.sum() / 1e3 / Math.max(1, completed.sum() + failed.sum()));
            // end::listener[]
            assertEquals(100, completed.sum());
        }
    }

    @Test
    void noThreadLeftAfterClose() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").start()) {
            Path socketPath = server.socketPath();
            List<Thread> before = nbdNettyThreads();   // another test's shared group may still be stopping
            // tag::threads[]
            NbdHandle handle = NbdHandle.create();                // no group given: a private one-thread group
            NbdConnection conn = handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(socketPath))).get();
            conn.disconnect().get();
            handle.close();                                       // waits (up to 10 s) for the group to stop
            handle.closeFuture().get();                           // or, without blocking: when this completes
            // end::threads[]
            // closeFuture completes after the group's thread has exited: no polling.
            assertEquals(List.of(), nbdNettyThreads().stream().filter(t -> !before.contains(t)).toList());
        }
    }

    @Test
    void debugLogging() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").start()) {
            Path socketPath = server.socketPath();
            // tag::debug[]
            NbdClientConfig config = NbdClientConfig.builder()
                    .debug(true)          // every option, request and reply at DEBUG, loggers io.nbdnetty.client.*
                    .build();
            try (NbdHandle handle = NbdHandle.create(config)) {
                handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(socketPath))).get().disconnect().get();
            }
            // end::debug[]
        }
    }
}
