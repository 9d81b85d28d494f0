package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdConnectException;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdConnectionClosedException;
import io.nbdnetty.client.NbdErrors;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdState;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.util.AttributeKey;
import io.netty.util.NetUtil;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A handle's dialler and the threads it owns: TCP (with its own name lookup on a thread of the handle's, every
 * address tried in turn), Unix sockets, vsock and a command's socket; the handle's private event loop (one thread),
 * and the end of both at close. Hands each connected channel to the {@link HandleOwner}. Thread-safe.
 */
public final class Dialler {
    private static final InternalLogger LOG = InternalLoggerFactory.getInstance(NbdHandle.class);

    /** A failure seen on a dialled channel before the handshake's handlers were installed. */
    private static final AttributeKey<Throwable> EARLY_ERROR = AttributeKey.valueOf(Dialler.class, "earlyError");

    private final HandleOwner owner;
    private final EventLoopGroup sharedGroup;
    /** The handle's own group when it was created without one; made on first use. */
    private volatile EventLoopGroup privateGroup;
    private final Transports.TrackedThreads privateThreads = new Transports.TrackedThreads();
    /** The thread of the name lookup, if one was started. */
    private volatile Thread lookupThread;
    private final CompletableFuture<Void> lookupEnded = new CompletableFuture<>();
    private volatile HostResolver resolver = InetAddress::getAllByName;
    /** The channel of the connect in progress while dialling, so that closing can abort it. */
    private volatile Channel dialling;
    private volatile String dialledHost;
    private volatile int dialledPort = -1;

    /**
     * A dialler.
     *
     * @param owner the handle
     * @param sharedGroup the caller's group, or null for a private one
     */
    public Dialler(HandleOwner owner, EventLoopGroup sharedGroup) {
        this.owner = owner;
        this.sharedGroup = sharedGroup;
    }

    /**
     * Replaces the name lookup (tests).
     *
     * @param resolver the lookup
     */
    public void resolver(HostResolver resolver) {
        this.resolver = Objects.requireNonNull(resolver, "resolver");
    }

    /** @return the host name dialled, or null */
    public String dialledHost() {
        return dialledHost;
    }

    /** @return the port dialled, or -1 */
    public int dialledPort() {
        return dialledPort;
    }

    /**
     * The group to register an adopted channel on: the caller's, else the private one (made for its transport).
     *
     * @param channel the channel
     * @return the group
     */
    public EventLoopGroup group(Channel channel) {
        return sharedGroup != null ? sharedGroup : privateGroup(channel);
    }

    /** Closes the channel of a connect in progress, if any: the connect fails, and the dial ends the rest. */
    public void abort() {
        Channel d = dialling;
        if (d != null) {
            d.close();
        }
    }

    /**
     * Starts a command that serves NBD on a Unix socket ({@link NbdCommandServer}), then dials it; the command ends
     * with the handle.
     *
     * @param command the command and its arguments
     * @return the handle's ready future
     */
    public CompletableFuture<NbdConnection> command(List<String> command) {
        NbdCommandServer child;
        try {
            child = NbdCommandServer.start(command);
        } catch (IOException e) {
            String m = NbdErrors.inWords(e);
            owner.fail(new NbdConnectException(m.startsWith(command.get(0) + ": ") ? "cannot run " + m
                    : "cannot start " + command.get(0) + ": " + m, e));
            shutdown();
            return owner.readyFuture();
        }
        owner.closeFuture().whenComplete((v, e) -> child.close());
        owner.readyFuture().whenComplete((c, e) -> {
            if (e != null) {
                child.close();
            }
        });
        child.ready(owner.config().handshakeTimeout()).whenComplete((path, e) -> {
            if (e != null) {
                owner.fail(new NbdConnectException("cannot start " + String.join(" ", command) + ": "
                        + NbdErrors.inWords(NegotiationHandler.unwrap(e)), NegotiationHandler.unwrap(e)));
                shutdown();
            } else {
                dial(null, -1, path, String.join(" ", command));
            }
        });
        return owner.readyFuture();
    }

    /** Dials a vsock address; the state is already CONNECTING. */
    public CompletableFuture<NbdConnection> dialVsock(int cid, int port, String what) {
        owner.prepareTls();
        String name = VsockTransport.describe(cid, port);
        name = name.equals(what) ? name : name + " (" + what + ")";
        String unavailable = VsockTransport.unavailable(sharedGroup);
        if (unavailable != null) {
            owner.fail(new NbdConnectionClosedException("cannot connect to " + name + ": " + unavailable));
            shutdown();
            return owner.readyFuture();
        }
        EventLoopGroup group = sharedGroup != null ? sharedGroup : privateGroup(null);
        long timeoutMillis = Math.min(owner.config().connectTimeout().toMillis(), Integer.MAX_VALUE);
        String target = name;
        Bootstrap b = new Bootstrap().group(group)
                .channelFactory(VsockTransport.Channel::new)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) timeoutMillis)
                .handler(DialPlaceholder.INSTANCE);
        ChannelFuture f;
        try {
            f = b.connect(new io.netty.channel.epoll.VSockAddress(cid, port));
        } catch (RuntimeException e) {
            // The socket itself could not be made (a kernel without AF_VSOCK fails here).
            owner.fail(new NbdConnectionClosedException("cannot connect to " + target + ": "
                    + VsockTransport.reason(e), e));
            shutdown();
            return owner.readyFuture();
        }
        connecting(f).addListener((ChannelFutureListener) done -> {
            if (done.isSuccess()) {
                adoptDialled(done.channel());
            } else {
                owner.fail(new NbdConnectionClosedException("cannot connect to " + target + ": "
                        + VsockTransport.reason(done.cause()), done.cause()));
                shutdown();
            }
        });
        return owner.readyFuture();
    }

    /** Looks up every address of a host name, in the order to try them; tests stand in for DNS with their own. */
    public interface HostResolver {
        /**
         * Looks a host name up.
         *
         * @param host the name
         * @return its addresses
         * @throws UnknownHostException if it has none
         */
        InetAddress[] resolve(String host) throws UnknownHostException;
    }


    /**
     * Dials a Unix socket ({@code socket}) or a TCP host; the state is already CONNECTING. A host name is looked up
     * on a thread of its own (the lookup blocks, so never on an event loop), and its addresses are tried in turn, as
     * libnbd does with getaddrinfo's list, each within the connect timeout.
     */
    public CompletableFuture<NbdConnection> dial(String host, int port, Path socket, String what) {
        owner.prepareTls();
        dialledHost = host;
        dialledPort = port;
        EventLoopGroup group = sharedGroup != null ? sharedGroup : privateGroup(null);
        // AUTO_READ stays off until the handshake handlers are in place (adopt turns it on): otherwise the
        // server's greeting could be read, and dropped, between the connect and the listener below.
        long timeoutMillis = Math.min(owner.config().connectTimeout().toMillis(), Integer.MAX_VALUE);
        Bootstrap b = new Bootstrap().group(group).channel(Transports.socketChannelType(group, socket != null))
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) timeoutMillis)
                .handler(DialPlaceholder.INSTANCE)
                // Addresses arrive resolved (names are looked up below, on a thread of the handle's own). Netty's
                // resolver would also hook itself to the event loop's termination, which Netty then signals on its
                // global executor, whose thread is not a daemon and holds the JVM up for a second after close().
                .disableResolver();
        if (socket != null) {
            connecting(b.connect(Transports.unixAddress(group, socket))).addListener((ChannelFutureListener) f -> {
                if (f.isSuccess()) {
                    adoptDialled(f.channel());
                } else {
                    owner.fail(new NbdConnectException("cannot connect to " + what + ": " + reason(f.cause()),
                            f.cause()));
                    shutdown();
                }
            });
            return owner.readyFuture();
        }
        String target = NetUtil.toSocketAddressString(host, port);
        String name = target.equals(what) ? target : target + " (" + what + ")";
        if (NetUtil.isValidIpV4Address(host) || NetUtil.isValidIpV6Address(host)) {
            // An address, not a name: the JDK parses it without a lookup.
            InetAddress a;
            try {
                a = InetAddress.getByName(host);
            } catch (UnknownHostException e) {
                owner.fail(new NbdConnectException("cannot connect to " + name + ": " + reason(e), e));
                shutdown();
                return owner.readyFuture();
            }
            tryAddresses(b, name, true, List.of(new InetSocketAddress(a, port)), 0, new ArrayList<>());
            return owner.readyFuture();
        }
        Thread t = new Thread(() -> {
            try {
                List<InetSocketAddress> addresses = new ArrayList<>();
                try {
                    for (InetAddress a : resolver.resolve(host)) {
                        addresses.add(new InetSocketAddress(a, port));
                    }
                    if (addresses.isEmpty()) {
                        throw new UnknownHostException(host + ": no addresses");
                    }
                } catch (Throwable e) {
                    // Any failure (not only UnknownHostException) must end the handle, not leave it connecting.
                    owner.fail(new NbdConnectException("cannot connect to " + name + ": cannot resolve the host "
                            + "name: " + reason(e), e));
                    shutdown();
                    return;
                }
                tryAddresses(b, name, false, addresses, 0, new ArrayList<>());
            } finally {
                lookupEnded.complete(null);
            }
        }, "nbd-netty-lookup");
        t.setDaemon(true);
        lookupThread = t;
        t.start();
        return owner.readyFuture();
    }

    /**
     * Connects to addresses[i], then to the next ones while each fails; fails the handle when none is left, with an
     * error that names the host (or address) and port, and each address with its failure.
     */
    private void tryAddresses(Bootstrap b, String name, boolean literal, List<InetSocketAddress> addresses, int i,
            List<Throwable> failures) {
        if (owner.state() != NbdState.CONNECTING) {
            // Closed while dialling: no more attempts.
            shutdown();
            return;
        }
        InetSocketAddress address = addresses.get(i);
        connecting(b.connect(address)).addListener((ChannelFutureListener) f -> {
            if (f.isSuccess()) {
                adoptDialled(f.channel());
                return;
            }
            Throwable cause = f.cause();
            String why = reason(cause, address);
            failures.add(new NbdConnectionClosedException(addressString(address) + ": " + why, cause));
            if (i + 1 < addresses.size()) {
                if (owner.config().debug() && LOG.isDebugEnabled()) {
                    LOG.debug("cannot connect to {}: {}; trying the next address", addressString(address), why);
                }
                tryAddresses(b, name, literal, addresses, i + 1, failures);
                return;
            }
            NbdConnectException e;
            if (literal) {
                e = new NbdConnectException("cannot connect to " + name + ": " + why, cause);
            } else if (failures.size() == 1) {
                e = new NbdConnectException("cannot connect to " + name + ": its one address failed: "
                        + failures.get(0).getMessage(), cause);
            } else {
                StringBuilder m = new StringBuilder("cannot connect to ").append(name).append(": all ")
                        .append(failures.size()).append(" of its addresses failed: ");
                for (int k = 0; k < failures.size(); k++) {
                    m.append(k == 0 ? "" : "; ").append(failures.get(k).getMessage());
                }
                e = new NbdConnectException(m.toString(), cause);
                failures.forEach(e::addSuppressed);
            }
            owner.fail(e);
            shutdown();
        });
    }

    /**
     * Notes a connect in progress so that {@link #closeAsync()} can abort it (a connect to an address that does not
     * answer could otherwise hold the close up for the whole connect timeout). closeAsync sets the state before it
     * reads this, this reads the state after setting it: one of the two closes the channel.
     */
    private ChannelFuture connecting(ChannelFuture f) {
        dialling = f.channel();
        if (owner.state() != NbdState.CONNECTING) {
            f.channel().close();
        }
        return f;
    }

    /** Takes over a channel this handle dialled; closes it again if the handle was closed meanwhile. */
    private void adoptDialled(Channel ch) {
        dialling = null;
        if (!ch.isActive()) {
            // The connect succeeded, but the server reset or closed the connection before this listener ran (it runs
            // later when the connect completed before it was added): the channel's pipeline may be gone already.
            Throwable early = ch.attr(EARLY_ERROR).get();
            ch.close();
            owner.fail(new NbdConnectionClosedException("the server closed the connection as soon as it was accepted"
                    + (early == null ? "" : ": " + reason(early)), early));
            shutdown();
            return;
        }
        ch.pipeline().remove(DialPlaceholder.INSTANCE);
        owner.adopt(ch);
        // closeAsync reads the channel after setting the state, adopt sets the channel before this reads the
        // state: one of the two sees the other and closes it (onChannelClosed then ends the rest).
        if (owner.state() != NbdState.CONNECTING) {
            ch.close();
        }
    }

    /** The handler a Bootstrap requires until the handshake's take over; shared by a dial's attempts. */
    @ChannelHandler.Sharable
    private static final class DialPlaceholder extends ChannelInboundHandlerAdapter {
        static final DialPlaceholder INSTANCE = new DialPlaceholder();

        /**
         * A reset that arrives before the handshake's handlers take over: kept for the failure's message (instead of
         * Netty's warning that an exception reached the end of the pipeline) and the channel closed.
         */
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.channel().attr(EARLY_ERROR).setIfAbsent(cause);
            ctx.close();
        }
    }

    /** An address as the messages show it: {@code 127.0.0.1:10809}, {@code [::1]:10809}. */
    static String addressString(InetSocketAddress a) {
        return NetUtil.toSocketAddressString(NetUtil.toAddressString(a.getAddress()), a.getPort());
    }

    private static String reason(Throwable c) {
        return NbdErrors.inWords(c);
    }

    /** The reason without the address Netty appends to connect errors (the message names it already). */
    private static String reason(Throwable c, InetSocketAddress address) {
        String r = reason(c);
        String suffix = ": " + address;
        return r.endsWith(suffix) && r.length() > suffix.length() ? r.substring(0, r.length() - suffix.length()) : r;
    }


    /** The private group, made on first need: for this channel's transport, or the best one here for null. */
    private synchronized EventLoopGroup privateGroup(Channel ch) {
        if (privateGroup == null) {
            privateGroup = Transports.newPrivateGroup(ch, privateThreads);
        }
        return privateGroup;
    }

    /** Whether a thread is one this handle started: its private event loop or its name lookup. */
    public boolean isOwnThread(Thread t) {
        return t == lookupThread || privateThreads.threads().contains(t);
    }

    /**
     * Shuts the private group down (if any) and completes {@link #closeFuture} once it has terminated, the name
     * lookup (if any) has returned, and their threads have exited. Never waits itself: the waiting for the threads
     * to exit (a moment, as they have finished their work) happens on a short-lived daemon thread, never on a thread
     * of the handle's own (nor on Netty's global executor, whose thread would hold up the JVM's exit).
     */
    /**
     * Shuts the private group down (if any) and completes the handle's close future once it has terminated, the name
     * lookup (if any) has returned, and their threads have exited.
     */
    public void shutdown() {
        EventLoopGroup g = privateGroup;
        Thread lookup = lookupThread;
        if (g == null && lookup == null) {
            owner.closeFuture().complete(null);
            return;
        }
        if (g != null) {
            g.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        }
        CompletableFuture<Void> lookupDone = lookup == null ? CompletableFuture.completedFuture(null) : lookupEnded;
        // A daemon thread of its own waits for the threads to exit (joins them), and ends as soon as it has completed
        // closeFuture. Nothing waits on or listens to the group's termination future: Netty completes those on its
        // global executor, whose thread is not a daemon and lingers for up to a second of quiet, holding up the
        // JVM's exit after main returns.
        Thread waiter = new Thread(() -> lookupDone.whenComplete((v, e) -> awaitOwnThreadsThenComplete()),
                "nbd-close-waiter");
        waiter.setDaemon(true);
        waiter.start();
    }

    private void awaitOwnThreadsThenComplete() {
        List<Thread> threads = new ArrayList<>(privateThreads.threads());
        Thread lookup = lookupThread;
        if (lookup != null) {
            threads.add(lookup);
        }
        try {
            for (Thread t : threads) {
                if (t != Thread.currentThread()) {
                    // Each has finished its work (the group terminated, the lookup returned): it is exiting.
                    t.join(TimeUnit.SECONDS.toMillis(2));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            owner.closeFuture().complete(null);
        }
    }
}
