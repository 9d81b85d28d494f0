package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdEventLoops;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoEventLoopGroup;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.SingleThreadIoEventLoop;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;

import java.io.IOException;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.spi.SelectorProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * Picks Netty transports: epoll where available, NIO elsewhere, io_uring when asked for (its jars are optional, so
 * its classes are touched only through {@link IoUringTransport} once {@link #ioUringClassesPresent()}).
 */
public final class Transports {
    private static final boolean IO_URING_CLASSES = classPresent("io.netty.channel.uring.IoUring");

    private Transports() {
    }

    public static boolean epollAvailable() {
        return Epoll.isAvailable();
    }

    /** Whether Netty's io_uring classes are on the class path (they may still be unusable here). */
    public static boolean ioUringClassesPresent() {
        return IO_URING_CLASSES;
    }

    public static boolean ioUringAvailable() {
        return IO_URING_CLASSES && IoUringTransport.isAvailable();
    }

    /** Why io_uring cannot be used here, or null if it can. */
    public static Throwable ioUringUnavailabilityCause() {
        if (!IO_URING_CLASSES) {
            return new ClassNotFoundException("Netty's io_uring transport is not on the class path (add "
                    + "io.netty:netty-transport-classes-io_uring and io.netty:netty-transport-native-io_uring with "
                    + "the classifier of this platform, e.g. linux-x86_64)");
        }
        return IoUringTransport.isAvailable() ? null : IoUringTransport.unavailabilityCause();
    }

    public static IoHandlerFactory ioUringFactory() {
        return IoUringTransport.newFactory();
    }

    private static boolean classPresent(String name) {
        try {
            Class.forName(name, false, Transports.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /**
     * A one-thread group able to drive this channel (each transport's channels need its own event loops), or of the
     * best transport here if the channel is null; its thread is made by, and remembered in, {@code threads}.
     */
    public static EventLoopGroup newPrivateGroup(Channel channel, TrackedThreads threads) {
        String name = channel == null ? "" : channel.getClass().getName();
        NbdEventLoops.Transport t;
        if (channel == null ? epollAvailable() : name.startsWith("io.netty.channel.epoll.")) {
            t = NbdEventLoops.Transport.EPOLL;
        } else if (name.startsWith("io.netty.channel.uring.")) {
            t = NbdEventLoops.Transport.IO_URING;
        } else {
            t = NbdEventLoops.Transport.NIO;
        }
        // One loop on its own rather than a group of one: a group listens to its loop's termination, and Netty runs
        // such listeners on its global executor, whose thread is not a daemon and would outlive close() for up to a
        // second, holding up the JVM's exit.
        return new SingleThreadIoEventLoop(null, threads,
                factory(t, NbdEventLoops.DEFAULT_BUSY_POLL.toNanos()));
    }

    /**
     * Makes daemon threads named {@code nbd-netty-*} and remembers each, so that a handle can tell when its private
     * group's thread has really ended (a group's termination future completes while its thread is still finishing).
     */
    public static final class TrackedThreads extends DefaultThreadFactory {
        private final List<Thread> threads = new CopyOnWriteArrayList<>();

        TrackedThreads() {
            super("nbd-netty", true);
        }

        @Override
        protected Thread newThread(Runnable r, String name) {
            Thread t = super.newThread(r, name);
            threads.add(t);
            return t;
        }

        /** The threads made so far. */
        List<Thread> threads() {
            return threads;
        }
    }

    /** The socket channel class that fits a group (epoll, io_uring or NIO), for TCP or a Unix socket. */
    public static Class<? extends Channel> socketChannelType(EventLoopGroup group, boolean unix) {
        if (isEpoll(group)) {
            return unix ? EpollDomainSocketChannel.class : EpollSocketChannel.class;
        }
        if (isIoUring(group)) {
            return IoUringTransport.socketChannelType(unix);
        }
        return unix ? NioDomainSocketChannel.class : NioSocketChannel.class;
    }

    public static boolean isEpoll(EventLoopGroup group) {
        return isIoType(group, EpollIoHandler.class);
    }

    public static boolean isIoUring(EventLoopGroup group) {
        return IO_URING_CLASSES && IoUringTransport.isIoUring(group);
    }

    public static boolean isNio(EventLoopGroup group) {
        return isIoType(group, NioIoHandler.class);
    }

    /**
     * Whether a group's loops run the given kind of I/O handler, asked of its first loop. Not through
     * {@link IoEventLoopGroup#isIoType}: that asks {@code next()}, which moves the group's round-robin on by one, so
     * that asking once before each {@code register} (which takes {@code next()} too) put every connection of a
     * two-loop group on the same loop, and the other loop never ran.
     */
    public static boolean isIoType(EventLoopGroup group, Class<? extends IoHandler> type) {
        if (group instanceof IoEventLoop loop) {
            return loop.isIoType(type);
        }
        if (!(group instanceof IoEventLoopGroup g)) {
            return false;
        }
        Iterator<EventExecutor> loops = group.iterator();
        if (loops.hasNext() && loops.next() instanceof IoEventLoop first) {
            return first.isIoType(type);
        }
        return g.isIoType(type);
    }

    /** A Unix socket address in the form the group's transport takes (Netty's own for the native transports). */
    public static SocketAddress unixAddress(EventLoopGroup group, Path socket) {
        return isEpoll(group) || isIoUring(group) ? new DomainSocketAddress(socket.toString())
                : UnixDomainSocketAddress.of(socket);
    }

    /** Wraps a connected socket file descriptor in an epoll channel of the right family. */
    public static Channel epollChannelForFd(int fd) {
        Epoll.ensureAvailability();
        return isUnixSocket(fd) ? new EpollDomainSocketChannel(fd) : new EpollSocketChannel(fd);
    }

    /** Linux: a descriptor is a Unix socket if its inode is listed in /proc/net/unix. */
    private static boolean isUnixSocket(int fd) {
        try {
            String link = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
            if (!link.startsWith("socket:[")) {
                throw new IllegalArgumentException("file descriptor " + fd + " is not a socket: " + link);
            }
            String inode = link.substring("socket:[".length(), link.length() - 1);
            try (Stream<String> lines = Files.lines(Path.of("/proc/net/unix"))) {
                return lines.skip(1).map(l -> l.trim().split("\\s+")).anyMatch(f -> f.length > 6
                        && f[6].equals(inode));
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot inspect file descriptor " + fd + ": " + e, e);
        }
    }

    /**
     * The I/O handlers of a transport, polling for {@code spinNanos} where that is not zero; io_uring's never poll,
     * whatever {@code spinNanos} says.
     *
     * @param transport the transport
     * @param spinNanos the busy-poll window
     * @return the factory
     */
    public static IoHandlerFactory factory(NbdEventLoops.Transport transport, long spinNanos) {
        switch (transport) {
            case EPOLL:
                return spinNanos == 0 ? EpollIoHandler.newFactory()
                        : EpollIoHandler.newFactory(0, () -> new BusyPollStrategy(spinNanos, System::nanoTime));
            case IO_URING:
                return ioUringFactory();
            default:
                return spinNanos == 0 ? NioIoHandler.newFactory()
                        : NioIoHandler.newFactory(SelectorProvider.provider(),
                                () -> new BusyPollStrategy(spinNanos, System::nanoTime));
        }
    }
}
