package io.nbdnetty.examples.server;

import io.nbdnetty.codec.NbdHandshakeEncoder;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * An example NBD server on Netty, built on the server side of {@code nbd-codec}: fixed newstyle handshake (or
 * oldstyle), structured replies, extended headers, the {@code base:allocation} and {@code qemu:allocation-depth}
 * metadata contexts (with filtered block status, {@code NBD_FLAG_BLOCK_STATUS_PAYLOAD}) and every command of the
 * protocol, serving one or more {@link NbdExport}s. Meant for demos and tests of NBD clients, including clients'
 * fallbacks: structured replies and extended headers can each be switched off.
 *
 * <pre>{@code
 * try (NbdServer server = NbdServer.builder().export("", new MemoryExport(64 << 20)).build()) {
 *     server.bind(new DomainSocketAddress("/tmp/nbd.sock"));
 *     ...
 * }
 * }</pre>
 *
 * <p>A server owns an event loop group (epoll when available, else NIO) and, for blocking exports such as {@link
 * FileExport}, a small thread pool; {@link #close()} stops both and closes the exports. Thread-safe.
 *
 * <p>Handshake (proto.md, "Option types"): {@code EXPORT_NAME}, {@code ABORT}, {@code LIST}, {@code INFO}, {@code GO},
 * {@code STRUCTURED_REPLY}, {@code EXTENDED_HEADERS}, {@code LIST_META_CONTEXT} and {@code SET_META_CONTEXT} (for
 * {@code base:allocation} and {@code qemu:allocation-depth}); {@code STARTTLS} is refused with
 * {@code NBD_REP_ERR_POLICY}, other options with {@code
 * NBD_REP_ERR_UNSUP}. The empty export name selects the export named "" if there is one, else the first export.
 */
public final class NbdServer implements AutoCloseable {
    /** The default maximum payload: 32 MiB, the spec's default. */
    public static final int DEFAULT_MAX_PAYLOAD = 32 * 1024 * 1024;
    /** The largest maximum payload this server accepts to advertise: 64 MiB. */
    public static final int MAX_MAX_PAYLOAD = 64 * 1024 * 1024;
    /** Default number of event loop threads. */
    public static final int DEFAULT_THREADS = Math.min(2, Runtime.getRuntime().availableProcessors());
    /** Default number of threads for blocking exports. */
    public static final int DEFAULT_IO_THREADS = 4;

    private static final System.Logger LOG = System.getLogger(NbdServer.class.getName());

    private final ServerConfig config;
    private final EventLoopGroup group;
    private final boolean epoll;
    private final ExecutorService ioExecutor;
    private final ChannelGroup channels = new DefaultChannelGroup("nbd-server", GlobalEventExecutor.INSTANCE);
    private final List<Channel> serverChannels = Collections.synchronizedList(new ArrayList<>());
    private final List<Path> socketFiles = Collections.synchronizedList(new ArrayList<>());
    /** Every thread this server started, joined by close(). */
    private final List<Thread> threads = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    private NbdServer(Builder b, Map<String, ExportEntry> exports) {
        this.epoll = Epoll.isAvailable();
        IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.group = new MultiThreadIoEventLoopGroup(b.threads, new TrackedThreads("nbd-server", threads),
                factory);
        boolean blocking = exports.values().stream().anyMatch(e -> e.export().isBlocking());
        this.ioExecutor = blocking ? Executors.newFixedThreadPool(b.ioThreads,
                new TrackedThreads("nbd-server-io", threads)) : null;
        this.config = new ServerConfig(exports, b.readOnly, b.structuredReplies,
                b.extendedHeaders, b.blockSizes, b.multiConn, b.oldstyle, ioExecutor, new LongAdder());
    }

    /** Daemon threads named {@code PREFIX-*}, each remembered so that close() can wait until it has ended. */
    private static final class TrackedThreads extends DefaultThreadFactory {
        private final List<Thread> threads;

        TrackedThreads(String prefix, List<Thread> threads) {
            super(prefix, true);
            this.threads = threads;
        }

        @Override
        protected Thread newThread(Runnable r, String name) {
            Thread t = super.newThread(r, name);
            threads.add(t);
            return t;
        }
    }

    /**
     * Returns a builder with the defaults: no exports, writable, structured replies and extended headers offered,
     * no block size constraints advertised unless asked, multi-conn advertised, fixed newstyle.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Listens on a TCP address ({@link InetSocketAddress}; port 0 picks a free port) or a Unix socket ({@link
     * DomainSocketAddress} or {@link UnixDomainSocketAddress}; the socket file must not exist, and is removed on
     * close). May be called several times to listen on several addresses. Blocks until bound; do not call from an
     * event loop.
     *
     * @param address where to listen
     * @return the bound address (with the actual port for TCP)
     * @throws IOException if binding fails
     * @throws IllegalStateException if the server is closed
     */
    public SocketAddress bind(SocketAddress address) throws IOException {
        Objects.requireNonNull(address, "address");
        checkOpen();
        Class<? extends ServerChannel> type;
        SocketAddress local;
        Path socketFile = null;
        if (address instanceof InetSocketAddress inet) {
            type = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
            local = inet;
        } else if (address instanceof DomainSocketAddress || address instanceof UnixDomainSocketAddress) {
            socketFile = address instanceof DomainSocketAddress d ? Path.of(d.path())
                    : ((UnixDomainSocketAddress) address).getPath();
            // Netty's epoll transport unlinks an existing path before binding, which would silently take the socket
            // of a running server: refuse instead, as the NIO transport does.
            if (Files.exists(socketFile, LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException("cannot listen on " + socketFile + ": the file exists (another server, or a "
                        + "stale socket to remove)");
            }
            type = epoll ? EpollServerDomainSocketChannel.class : NioServerDomainSocketChannel.class;
            local = epoll ? new DomainSocketAddress(socketFile.toString()) : UnixDomainSocketAddress.of(socketFile);
        } else {
            throw new IllegalArgumentException("unsupported address type " + address.getClass().getName()
                    + ": use InetSocketAddress, DomainSocketAddress or UnixDomainSocketAddress");
        }
        ServerBootstrap bootstrap = new ServerBootstrap().group(group).channel(type).childHandler(initializer());
        Channel channel;
        try {
            channel = bootstrap.bind(local).sync().channel();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while binding " + address, e);
        } catch (Exception e) {
            // sync() rethrows the bind failure (a native or JDK IOException) unchecked.
            throw new IOException("cannot listen on " + (address instanceof InetSocketAddress inet
                    ? io.netty.util.NetUtil.toSocketAddressString(inet.getHostString(), inet.getPort())
                    : String.valueOf(socketFile)) + ": " + io.nbdnetty.client.NbdErrors.inWords(e), e);
        }
        serverChannels.add(channel);
        if (socketFile != null) {
            socketFiles.add(socketFile);
        }
        LOG.log(System.Logger.Level.DEBUG, "listening on {0}", channel.localAddress());
        return channel.localAddress() != null ? channel.localAddress() : address;
    }

    /**
     * Serves one already-connected channel, for example one end of a connected socket pair. An unregistered channel
     * is registered with this server's event loop group (it must then be of a type that group supports: epoll
     * channels when {@link Epoll#isAvailable()}, NIO channels otherwise); a registered channel keeps its own event
     * loop. The greeting is sent at once if the channel is active, else when it becomes active.
     *
     * @param channel the connection
     * @return completes when the connection closes
     * @throws IllegalStateException if the server is closed
     */
    public CompletableFuture<Void> serve(Channel channel) {
        Objects.requireNonNull(channel, "channel");
        checkOpen();
        CompletableFuture<Void> done = new CompletableFuture<>();
        channel.closeFuture().addListener(f -> done.complete(null));
        ChannelHandler init = initializer();
        if (channel.isRegistered()) {
            channel.pipeline().addLast(init);
        } else {
            channel.pipeline().addLast(init);
            group.register(channel).addListener(f -> {
                if (!f.isSuccess()) {
                    LOG.log(System.Logger.Level.WARNING, "cannot register " + channel, f.cause());
                    channel.close();
                    done.completeExceptionally(f.cause());
                }
            });
        }
        return done;
    }

    private ChannelInitializer<Channel> initializer() {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                channels.add(ch);
                if (config.oldstyle()) {
                    ch.pipeline().addLast(NbdServerHandshakeHandler.ENCODER_NAME, NbdHandshakeEncoder.INSTANCE);
                    NbdServerHandshakeHandler.startOldstyle(ch, config);
                } else {
                    NbdServerHandshakeHandler.install(ch.pipeline(), config);
                }
            }
        };
    }

    /**
     * Returns the addresses this server listens on.
     *
     * @return the bound addresses, in the order bound
     */
    public List<SocketAddress> boundAddresses() {
        synchronized (serverChannels) {
            List<SocketAddress> out = new ArrayList<>();
            for (Channel c : serverChannels) {
                out.add(c.localAddress());
            }
            return out;
        }
    }

    /**
     * Returns the number of open client connections.
     *
     * @return the count
     */
    public int connectionCount() {
        return channels.size();
    }

    /**
     * Returns how many connections so far entered the transmission phase with extended headers
     * ({@code NBD_OPT_EXTENDED_HEADERS} acknowledged): a way for tests and operators to see what clients negotiate.
     *
     * @return the count since the server was built
     */
    public long extendedHeaderSessions() {
        return config.extendedSessions().sum();
    }

    /**
     * Returns the exports, by name, in the order they were added.
     *
     * @return an unmodifiable map
     */
    public Map<String, NbdExport> exports() {
        Map<String, NbdExport> out = new LinkedHashMap<>();
        config.exports().forEach((name, e) -> out.put(name, e.export()));
        return Collections.unmodifiableMap(out);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the server is closed");
        }
    }

    /**
     * Stops listening, closes every connection (without waiting for replies in flight), shuts the event loop group
     * and the I/O threads down, waiting for them to finish, and closes the exports. Idempotent. Do not call from one
     * of the server's event loops.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        synchronized (serverChannels) {
            for (Channel c : serverChannels) {
                c.close().awaitUninterruptibly();
            }
        }
        channels.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly();
        if (ioExecutor != null) {
            ioExecutor.shutdownNow();
            try {
                ioExecutor.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        // A group's termination completes while its threads are still finishing their last steps: wait for them, so
        // that nothing of the server is left running once close() returns.
        for (Thread t : threads) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        for (Path p : socketFiles) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "cannot delete " + p, e);
            }
        }
        for (ExportEntry e : config.exports().values()) {
            try {
                e.export().close();
            } catch (IOException ex) {
                LOG.log(System.Logger.Level.WARNING, "cannot close export " + e.name(), ex);
            }
        }
    }

    @Override
    public String toString() {
        return "NbdServer[exports=" + config.exports().keySet() + ", bound=" + boundAddresses() + "]";
    }

    /**
     * Builds an {@link NbdServer}. Not thread-safe; {@link #build()} may be called more than once only with fresh
     * exports (a server closes its exports).
     */
    public static final class Builder {
        private final LinkedHashMap<String, ExportEntry> exports = new LinkedHashMap<>();
        private String description = "";
        private boolean readOnly;
        private boolean structuredReplies = true;
        private boolean extendedHeaders = true;
        private int[] blockSizes;
        private boolean multiConn = true;
        private boolean oldstyle;
        private int threads = DEFAULT_THREADS;
        private int ioThreads = DEFAULT_IO_THREADS;

        private Builder() {
        }

        /**
         * Adds an export with the server-wide description. The server takes ownership: it closes the export.
         *
         * @param name the name clients ask for ("" for an unnamed export), at most 4096 bytes of UTF-8
         * @param export the storage
         * @return this builder
         * @throws IllegalArgumentException if the name is taken or too long
         */
        public Builder export(String name, NbdExport export) {
            return export(name, export, null);
        }

        /**
         * Adds an export with its own description. The server takes ownership: it closes the export.
         *
         * @param name the name clients ask for ("" for an unnamed export), at most 4096 bytes of UTF-8
         * @param export the storage
         * @param description shown by {@code NBD_OPT_LIST} and {@code NBD_INFO_DESCRIPTION}; null for the server-wide
         *     description
         * @return this builder
         * @throws IllegalArgumentException if the name is taken or too long
         */
        public Builder export(String name, NbdExport export, String description) {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(export, "export");
            checkString(name, "export name");
            if (description != null) {
                checkString(description, "description");
            }
            if (exports.containsKey(name)) {
                throw new IllegalArgumentException("export name \"" + name + "\" is used twice");
            }
            exports.put(name, new ExportEntry(name, export, description));
            return this;
        }

        /**
         * Sets the description of exports added without one of their own (default: none).
         *
         * @param description the text, at most 4096 bytes of UTF-8
         * @return this builder
         */
        public Builder description(String description) {
            Objects.requireNonNull(description, "description");
            checkString(description, "description");
            this.description = description;
            return this;
        }

        /**
         * Serves every export read-only, whatever the export itself allows (default false).
         *
         * @param readOnly true to refuse writes
         * @return this builder
         */
        public Builder readOnly(boolean readOnly) {
            this.readOnly = readOnly;
            return this;
        }

        /**
         * Whether to accept {@code NBD_OPT_STRUCTURED_REPLY} (default true). Off, the server answers it with {@code
         * NBD_REP_ERR_UNSUP}, as an old server would.
         *
         * @param structuredReplies true to offer structured replies
         * @return this builder
         */
        public Builder structuredReplies(boolean structuredReplies) {
            this.structuredReplies = structuredReplies;
            return this;
        }

        /**
         * Whether to accept {@code NBD_OPT_EXTENDED_HEADERS} (default true). Off, the server answers it with {@code
         * NBD_REP_ERR_UNSUP}.
         *
         * @param extendedHeaders true to offer extended headers
         * @return this builder
         */
        public Builder extendedHeaders(boolean extendedHeaders) {
            this.extendedHeaders = extendedHeaders;
            return this;
        }

        /**
         * Sets block size constraints (proto.md, "Block size constraints"), advertised with {@code
         * NBD_INFO_BLOCK_SIZE} in every {@code NBD_OPT_INFO}/{@code GO} reply and enforced: reads, writes, trims and
         * write zeroes not aligned to {@code minimum} fail with {@code NBD_EINVAL}, reads and writes longer than
         * {@code maximum} too. Without this call the defaults (1, 4096, 32 MiB) apply and are only sent when asked.
         *
         * @param minimum a power of two from 1 to 64 KiB
         * @param preferred a power of two, at least {@code max(minimum, 512)}
         * @param maximum the maximum payload: a multiple of {@code minimum}, at least {@code preferred}, at most 64
         *     MiB
         * @return this builder
         * @throws IllegalArgumentException if a value breaks these rules
         */
        public Builder blockSizes(int minimum, int preferred, int maximum) {
            if (minimum < 1 || minimum > 65536 || Integer.bitCount(minimum) != 1) {
                throw new IllegalArgumentException("minimum block size must be a power of two from 1 to 65536: "
                        + minimum);
            }
            if (preferred < Math.max(minimum, 512) || Integer.bitCount(preferred) != 1) {
                throw new IllegalArgumentException("preferred block size must be a power of two of at least "
                        + Math.max(minimum, 512) + ": " + preferred);
            }
            if (maximum < preferred || maximum % minimum != 0 || maximum > MAX_MAX_PAYLOAD) {
                throw new IllegalArgumentException("maximum payload size must be a multiple of the minimum block "
                        + "size, at least the preferred block size and at most " + MAX_MAX_PAYLOAD + ": " + maximum);
            }
            this.blockSizes = new int[] {minimum, preferred, maximum};
            return this;
        }

        /**
         * Whether to advertise {@code NBD_FLAG_CAN_MULTI_CONN} (default true; both export types are consistent
         * across connections).
         *
         * @param multiConn true to advertise it
         * @return this builder
         */
        public Builder multiConn(boolean multiConn) {
            this.multiConn = multiConn;
            return this;
        }

        /**
         * Uses the oldstyle handshake (default false): the 152-byte greeting carrying the size and flags of the
         * default export, then transmission at once, with simple replies only.
         *
         * @param oldstyle true for oldstyle
         * @return this builder
         */
        public Builder oldstyle(boolean oldstyle) {
            this.oldstyle = oldstyle;
            return this;
        }

        /**
         * Sets the number of event loop threads (default {@link #DEFAULT_THREADS}).
         *
         * @param threads at least 1
         * @return this builder
         */
        public Builder threads(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1: " + threads);
            }
            this.threads = threads;
            return this;
        }

        /**
         * Sets the number of threads for blocking exports (default {@link #DEFAULT_IO_THREADS}).
         *
         * @param ioThreads at least 1
         * @return this builder
         */
        public Builder ioThreads(int ioThreads) {
            if (ioThreads < 1) {
                throw new IllegalArgumentException("ioThreads must be at least 1: " + ioThreads);
            }
            this.ioThreads = ioThreads;
            return this;
        }

        /**
         * Creates the server (not yet listening: see {@link NbdServer#bind} and {@link NbdServer#serve}).
         *
         * @return the server
         * @throws IllegalStateException if no export was added
         */
        public NbdServer build() {
            if (exports.isEmpty()) {
                throw new IllegalStateException("add at least one export");
            }
            LinkedHashMap<String, ExportEntry> resolved = new LinkedHashMap<>();
            exports.forEach((name, e) -> resolved.put(name, e.description() != null ? e
                    : new ExportEntry(name, e.export(), description)));
            return new NbdServer(this, resolved);
        }

        private static void checkString(String s, String what) {
            int length = s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
            if (length > 4096) {
                throw new IllegalArgumentException(what + " is " + length + " bytes of UTF-8; the protocol allows "
                        + "4096");
            }
        }
    }
}
