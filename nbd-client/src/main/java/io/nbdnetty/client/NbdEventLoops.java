package io.nbdnetty.client;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;

import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * Event loop groups for sharing between many handles ({@link NbdHandle#create(NbdClientConfig, EventLoopGroup)}):
 * Netty's epoll transport where it is available (Linux), NIO elsewhere, or a {@link Transport} chosen explicitly
 * (io_uring is never chosen by default). The caller owns the group and shuts it down ({@code shutdownGracefully()})
 * after closing its handles.
 *
 * <p>A handle dials with the channel class of its group's transport: a group made by Netty itself works as well,
 * such as {@code new MultiThreadIoEventLoopGroup(n, IoUringIoHandler.newFactory())}.
 */
public final class NbdEventLoops {
    private NbdEventLoops() {
    }

    /**
     * A Netty transport an event loop group can use. Every transport dials TCP and Unix domain sockets ({@link
     * NbdHandle#connect(NbdUri)}, {@link NbdHandle#connectTcp}, {@link NbdHandle#connectUnix}); adopting an existing
     * socket depends on the transport (see each constant).
     */
    public enum Transport {
        /**
         * Netty's native epoll transport (Linux, {@code netty-transport-native-epoll}, a dependency of this library).
         * Adopts file descriptors ({@link NbdHandle#connect(int)}).
         */
        EPOLL,
        /**
         * Netty's io_uring transport (Linux kernels that allow io_uring). Optional: the application adds {@code
         * netty-transport-classes-io_uring} and {@code netty-transport-native-io_uring} (with the platform's
         * classifier). Netty 4.2's io_uring channels cannot adopt an existing descriptor, so {@link
         * NbdHandle#connect(int)} and {@link NbdHandle#connect(java.nio.channels.SocketChannel)} are refused on such a
         * group.
         */
        IO_URING,
        /** Java NIO, available everywhere. Adopts {@link java.nio.channels.SocketChannel}s. */
        NIO;

        /**
         * Whether groups of this transport can be made here.
         *
         * @return true if {@link NbdEventLoops#newGroup(Transport, int)} will succeed
         */
        public boolean isAvailable() {
            return unavailabilityCause().isEmpty();
        }

        /**
         * Why this transport cannot be used here.
         *
         * @return the reason (Netty's, or a missing jar), or empty if the transport is available
         */
        public Optional<Throwable> unavailabilityCause() {
            switch (this) {
                case EPOLL:
                    return Optional.ofNullable(Epoll.unavailabilityCause());
                case IO_URING:
                    return Optional.ofNullable(Transports.ioUringUnavailabilityCause());
                default:
                    return Optional.empty();
            }
        }
    }

    /**
     * Whether groups made by {@link #newGroup(int)} use epoll.
     *
     * @return true on Linux with Netty's native epoll library
     */
    public static boolean isEpoll() {
        return Transports.epollAvailable();
    }

    /**
     * The transport {@link #newGroup(int)} uses here.
     *
     * @return {@link Transport#EPOLL} where it is available, else {@link Transport#NIO}
     */
    public static Transport defaultTransport() {
        return isEpoll() ? Transport.EPOLL : Transport.NIO;
    }

    /**
     * Creates a group of the default transport here ({@link #defaultTransport()}), with daemon threads named {@code
     * nbd-netty-*}. Handles made with it can {@link NbdHandle#connect(NbdUri)}, {@link NbdHandle#connectTcp}, {@link
     * NbdHandle#connectUnix}, and adopt channels and descriptors of the same transport ({@code connect(int fd)} on
     * epoll, {@code connect(java.nio.channels.SocketChannel)} on NIO).
     *
     * @param threads the number of event loop threads (one connection is served by one thread)
     * @return the group
     */
    public static EventLoopGroup newGroup(int threads) {
        return newGroup(defaultTransport(), threads);
    }

    /**
     * Creates a group of the given transport, with daemon threads named {@code nbd-netty-*}.
     *
     * @param transport the transport; it must be {@link Transport#isAvailable() available}
     * @param threads the number of event loop threads (one connection is served by one thread)
     * @return the group
     * @throws UnsupportedOperationException if the transport is not available here; its message says why and its
     *     cause is {@link Transport#unavailabilityCause()}
     */
    public static EventLoopGroup newGroup(Transport transport, int threads) {
        Objects.requireNonNull(transport, "transport");
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1: " + threads);
        }
        Optional<Throwable> cause = transport.unavailabilityCause();
        if (cause.isPresent()) {
            Throwable c = cause.get();
            throw new UnsupportedOperationException("the " + transport.name().toLowerCase(Locale.ROOT)
                    + " transport is not available here: " + (c.getMessage() != null ? c.getMessage() : c), c);
        }
        IoHandlerFactory factory;
        switch (transport) {
            case EPOLL:
                factory = EpollIoHandler.newFactory();
                break;
            case IO_URING:
                factory = Transports.ioUringFactory();
                break;
            default:
                factory = NioIoHandler.newFactory();
                break;
        }
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("nbd-netty", true), factory);
    }
}
