package io.nbdnetty.client;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;

/**
 * Event loop groups for sharing between many handles ({@link NbdHandle#create(NbdClientConfig, EventLoopGroup)}):
 * Netty's epoll transport where it is available (Linux), NIO elsewhere. The caller owns the group and shuts it down
 * ({@code shutdownGracefully()}) after closing its handles.
 */
public final class NbdEventLoops {
    private NbdEventLoops() {
    }

    /**
     * Whether groups made here use epoll.
     *
     * @return true on Linux with Netty's native epoll library
     */
    public static boolean isEpoll() {
        return Transports.epollAvailable();
    }

    /**
     * Creates a group of the best transport here, with daemon threads named {@code nbd-netty-*}. Handles made with it
     * can {@link NbdHandle#connect(NbdUri)}, {@link NbdHandle#connectTcp}, {@link NbdHandle#connectUnix}, and adopt
     * channels and descriptors of the same transport ({@code connect(int fd)} on epoll, {@code
     * connect(java.nio.channels.SocketChannel)} on NIO).
     *
     * @param threads the number of event loop threads (one connection is served by one thread)
     * @return the group
     */
    public static EventLoopGroup newGroup(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1: " + threads);
        }
        IoHandlerFactory factory = isEpoll() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("nbd-netty", true), factory);
    }
}
