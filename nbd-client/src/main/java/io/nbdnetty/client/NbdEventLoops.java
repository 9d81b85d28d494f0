package io.nbdnetty.client;

import io.nbdnetty.client.internal.Transports;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.util.concurrent.DefaultThreadFactory;

import java.time.Duration;
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
     * How long the loops of a group made here ({@link #newGroup(int)}, {@link #newGroup(Transport, int)}, and a
     * handle's private group) poll by default, on epoll and NIO, before they sleep while one of their connections
     * awaits replies: 5 microseconds. Waking a sleeping thread costs the thread that wakes it (here, often the
     * server's one writer per connection) more than that on a virtual machine, so a short poll catches the next
     * piece of a reply that is on its way for less CPU than the wake-up would cost: against nbdkit on a Unix socket,
     * 256 KiB reads at queue depth 16 went from 0.9-1.0x to about 1.05-1.1x of fio's throughput, 4 KiB reads at queue
     * depth 1 gained about 5% with a better p99, for 5-10 points more of a core at low queue depth
     * (docs/PERFORMANCE.md). A loop none of whose connections has a request in flight sleeps at once, and so does a
     * loop whose connections have 8 or more requests in flight between them, none a read of 64 KiB or more: replies
     * then come in bursts that one wake-up serves many of, and polling only takes CPU from a server on the same
     * machine (4 KiB reads at queue depth 16 and 64 went 5-20% faster). {@link #newGroup(Transport, int, Duration)}
     * sets another window, or none with {@link Duration#ZERO}.
     */
    public static final Duration DEFAULT_BUSY_POLL = Duration.ofNanos(5_000);

    /**
     * Creates a group of the default transport here ({@link #defaultTransport()}), with daemon threads named {@code
     * nbd-netty-*}, polling as {@link #DEFAULT_BUSY_POLL} says. Handles made with it can {@link
     * NbdHandle#connect(NbdUri)}, {@link NbdHandle#connectTcp}, {@link NbdHandle#connectUnix}, and adopt channels and
     * descriptors of the same transport ({@code connect(int fd)} on epoll, {@code
     * connect(java.nio.channels.SocketChannel)} on NIO).
     *
     * @param threads the number of event loop threads (one connection is served by one thread)
     * @return the group
     */
    public static EventLoopGroup newGroup(int threads) {
        return newGroup(defaultTransport(), threads);
    }

    /**
     * Creates a group of the given transport, with daemon threads named {@code nbd-netty-*}, polling as {@link
     * #DEFAULT_BUSY_POLL} says (epoll and NIO; io_uring never polls).
     *
     * @param transport the transport; it must be {@link Transport#isAvailable() available}
     * @param threads the number of event loop threads (one connection is served by one thread)
     * @return the group
     * @throws UnsupportedOperationException if the transport is not available here; its message says why and its
     *     cause is {@link Transport#unavailabilityCause()}
     */
    public static EventLoopGroup newGroup(Transport transport, int threads) {
        return newGroup(transport, threads, transport == Transport.IO_URING ? Duration.ZERO : DEFAULT_BUSY_POLL);
    }

    /**
     * Creates a group of the given transport whose event loops busy-poll for a window of the caller's choosing: while
     * at least one connection on a loop has requests in flight, the loop, after each wake-up with work, keeps polling
     * its sockets without sleeping for up to {@code busyPoll} before it blocks again, so that a reply arriving
     * meanwhile is read at once instead of after the scheduler wakes the thread (tens of microseconds on a virtual
     * machine). A long window lowers the latency of requests at low queue depth (4 KiB reads at QD1 against nbdkit on
     * a Unix socket: from 48-50 to 26-27 microseconds at the median with 30 microseconds, docs/PERFORMANCE.md) at the
     * cost of up to {@code busyPoll} of CPU time per gap between replies; a loop with nothing in flight sleeps at
     * once. Like Linux's {@code SO_BUSY_POLL}, a long window trades CPU for latency; the groups made without one
     * poll for {@link #DEFAULT_BUSY_POLL}.
     *
     * @param transport the transport: {@link Transport#EPOLL} or {@link Transport#NIO} if {@code busyPoll} is not
     *     zero, and {@link Transport#isAvailable() available}
     * @param threads the number of event loop threads (one connection is served by one thread)
     * @param busyPoll how long a loop polls before it sleeps; {@link Duration#ZERO} for a loop that never polls
     * @return the group
     * @throws UnsupportedOperationException if the transport is not available here; its message says why and its
     *     cause is {@link Transport#unavailabilityCause()}
     * @throws IllegalArgumentException if {@code busyPoll} is negative, or not zero with io_uring (whose loop Netty
     *     does not let us drive)
     * @throws IllegalStateException if the loops cannot be started (for example, the process has run out of file
     *     descriptors for their epoll instances); its message says how many loops, of which transport, and the
     *     system's reason, and its cause is the transport's own error
     */
    public static EventLoopGroup newGroup(Transport transport, int threads, Duration busyPoll) {
        Objects.requireNonNull(transport, "transport");
        Objects.requireNonNull(busyPoll, "busyPoll");
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1: " + threads);
        }
        if (busyPoll.isNegative()) {
            throw new IllegalArgumentException("busyPoll must not be negative: " + busyPoll);
        }
        long spin = busyPoll.toNanos();
        if (spin != 0 && transport == Transport.IO_URING) {
            throw new IllegalArgumentException("busy polling works with the epoll and NIO transports, not io_uring");
        }
        Optional<Throwable> cause = transport.unavailabilityCause();
        if (cause.isPresent()) {
            Throwable c = cause.get();
            throw new UnsupportedOperationException("the " + transport.name().toLowerCase(Locale.ROOT)
                    + " transport is not available here: " + (c.getMessage() != null ? c.getMessage() : c), c);
        }
        try {
            return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("nbd-netty", true),
                    Transports.factory(transport, spin));
        } catch (IllegalStateException e) {
            throw new IllegalStateException(startFailure(transport, threads, e), e);
        }
    }

    /**
     * The message for a group that could not be started: Netty says only "failed to create a child event loop", and
     * the reason is in the deepest cause, in the words of a system call ("epoll_create1() failed: Too many open
     * files"), which {@link NbdErrors#inWords} turns into the system's reason.
     */
    static String startFailure(Transport transport, int threads, Throwable e) {
        Throwable deepest = null;
        for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
            if (c.getMessage() != null) {
                deepest = c;
            }
        }
        String reason = deepest != null ? NbdErrors.inWords(deepest) : null;
        return "cannot start " + threads + " " + transport.name().toLowerCase(Locale.ROOT) + " event loop"
                + (threads == 1 ? "" : "s") + (reason != null ? ": " + reason : "");
    }

}
