package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdConnectionClosedException;
import io.nbdnetty.client.NbdDurations;
import io.nbdnetty.client.NbdErrors;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdState;
import io.nbdnetty.client.NbdStateException;
import io.nbdnetty.client.NbdTimeoutException;
import io.nbdnetty.client.NbdTlsMode;
import io.nbdnetty.codec.NbdClientHandshakeDecoder;
import io.nbdnetty.codec.NbdHandshakeEncoder;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.ScheduledFuture;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * The state and lifecycle behind an {@link NbdHandle}: its state machine and futures, adopting a channel and
 * installing the handshake, opt-mode calls, and the one close and fail path. The handlers report here ({@link
 * HandleOwner}); {@link #fail} fails the handshake's option in flight and every request ({@link
 * TransmissionHandler#failAll}) once and closes the channel. Thread-safe.
 */
public final class HandleCore implements HandleOwner {
    /** Makes the public connection over a transmission handler ({@code NbdConnection}'s constructor is not public). */
    @FunctionalInterface
    public interface Connections {
        /**
         * A connection.
         *
         * @param session what was negotiated
         * @param transmission its transmission handler
         * @return the connection
         */
        NbdConnection create(NbdSession session, TransmissionHandler transmission);
    }

    private final NbdHandle handle;
    private volatile NbdClientConfig config;
    private final EventLoopGroup sharedGroup;
    private final ReplyAssembler.ExtentLists extentLists;
    private final Connections connections;
    /** Dials, and owns the handle's own threads (its private event loop, its name lookup). */
    private final Dialler dialler;
    private final AtomicReference<NbdState> state = new AtomicReference<>(NbdState.CREATED);
    private final CompletableFuture<NbdHandle> negotiatingFuture = new CompletableFuture<>();
    private final CompletableFuture<NbdConnection> readyFuture = new CompletableFuture<>();
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private volatile Channel channel;
    private volatile NegotiationHandler handshake;
    /** See {@link #prepareTls()}. */
    private volatile io.netty.handler.ssl.SslContext preparedTls;
    private volatile TransmissionHandler transmission;
    private volatile NbdConnection connection;
    private volatile String exportName;
    private volatile List<String> metaContexts;

    /**
     * The core of a new handle.
     *
     * @param handle the handle
     * @param config its configuration
     * @param sharedGroup the caller's group, or null for a private one
     * @param extentLists makes the caller's lists of extents
     * @param connections makes the public connection
     */
    public HandleCore(NbdHandle handle, NbdClientConfig config, EventLoopGroup sharedGroup,
            ReplyAssembler.ExtentLists extentLists, Connections connections) {
        this.handle = handle;
        this.config = config;
        this.sharedGroup = sharedGroup;
        this.extentLists = extentLists;
        this.connections = connections;
        this.dialler = new Dialler(this, sharedGroup);
        this.exportName = config.exportName();
        this.metaContexts = config.metaContexts();
        // Cancelling the connect future abandons the handshake: close, or the connection would stay half open.
        readyFuture.whenComplete((c, e) -> {
            if (e instanceof java.util.concurrent.CancellationException) {
                closeAsync();
            }
        });
    }

    /** @return the dialler */
    public Dialler dialler() {
        return dialler;
    }

    /**
     * Replaces the configuration (a URI's settings, before dialling).
     *
     * @param config the configuration
     */
    public void configure(NbdClientConfig config) {
        this.config = config;
        this.exportName = config.exportName();
    }

    /** @return the channel, once adopted or dialled */
    public Channel channel() {
        return channel;
    }

    /** @return the handshake handler, once the channel is adopted */
    public NegotiationHandler handshake() {
        return handshake;
    }

    /** @return the connection, once in the transmission phase */
    public NbdConnection connection() {
        return connection;
    }

    /** @return the handle's negotiating future */
    public CompletableFuture<NbdHandle> negotiatingFuture() {
        return negotiatingFuture;
    }

    /**
     * Sets the export name.
     *
     * @param name the name
     */
    public void exportName(String name) {
        exportName = name;
    }

    /**
     * Sets the metadata contexts to ask for.
     *
     * @param names the names
     */
    public void metaContexts(List<String> names) {
        metaContexts = names;
    }

    /**
     * Finds the TLS context a connection with this configuration will use (built, or kept from an earlier connection
     * while its files are unchanged: {@link NbdTls#context}), on the calling thread, so that the event loop neither
     * reads nor parses certificate files at STARTTLS. Call it once the configuration is final, before the channel is
     * adopted. Without TLS it does nothing; a context that cannot be built is left to fail at STARTTLS, where the
     * error is reported (and where {@link NbdTlsMode#ALLOW} against a server without TLS never needs it).
     */
    @Override
    public void prepareTls() {
        if (config.tls() == NbdTlsMode.DISABLE) {
            return;
        }
        try {
            preparedTls = NbdTls.context(config);
        } catch (javax.net.ssl.SSLException | RuntimeException e) {
            preparedTls = null;
        }
    }

    /**
     * CREATED to CONNECTING.
     *
     * @return whether the handle was newly created (and now connects)
     */
    public boolean start() {
        return state.compareAndSet(NbdState.CREATED, NbdState.CONNECTING);
    }

    /**
     * The refusal of a second connect.
     *
     * @param <T> the future's type
     * @return a future failed with the handle's state
     */
    public <T> CompletableFuture<T> notCreated() {
        return CompletableFuture.failedFuture(new NbdStateException(state.get(), "the handle must be newly created"));
    }

    /**
     * See {@link NbdHandle#connect(Channel)}.
     *
     * @param channel the channel
     * @return the ready future
     */
    public CompletableFuture<NbdConnection> connect(Channel channel) {
        Objects.requireNonNull(channel, "channel");
        if (!state.compareAndSet(NbdState.CREATED, NbdState.CONNECTING)) {
            return CompletableFuture.failedFuture(
                    new NbdStateException(state.get(), "the handle must be newly created"));
        }
        prepareTls();
        return adoptChannel(channel);
    }

    /**
     * See {@link NbdHandle#connect(SocketChannel)}.
     *
     * @param socket the socket
     * @return the ready future
     */
    public CompletableFuture<NbdConnection> connect(SocketChannel socket) {
        Objects.requireNonNull(socket, "socket");
        if (state.get() != NbdState.CREATED) {
            return CompletableFuture.failedFuture(
                    new NbdStateException(state.get(), "the handle must be newly created"));
        }
        if (sharedGroup instanceof io.netty.channel.IoEventLoopGroup && !Transports.isNio(sharedGroup)) {
            return CompletableFuture.failedFuture(new NbdException("a java.nio SocketChannel needs Netty's NIO "
                    + "transport, but this handle's event loop group is not an NIO group; pass a file descriptor "
                    + "or create the handle with an NIO group"));
        }
        Channel ch;
        try {
            if (!socket.isConnected()) {
                return CompletableFuture.failedFuture(new NbdException("the socket channel is not connected"));
            }
            ch = socket.getRemoteAddress() instanceof UnixDomainSocketAddress ? new NioDomainSocketChannel(socket)
                    : new NioSocketChannel(socket);
        } catch (IOException | RuntimeException e) {
            return CompletableFuture.failedFuture(new NbdException("cannot adopt the socket channel: "
                    + NbdErrors.inWords(e), e));
        }
        return connect(ch);
    }

    /**
     * See {@link NbdHandle#connect(int)}.
     *
     * @param fd the descriptor
     * @return the ready future
     */
    public CompletableFuture<NbdConnection> connect(int fd) {
        if (state.get() != NbdState.CREATED) {
            return CompletableFuture.failedFuture(
                    new NbdStateException(state.get(), "the handle must be newly created"));
        }
        if (!Transports.epollAvailable()) {
            return CompletableFuture.failedFuture(new NbdException(
                    "connecting a file descriptor needs Netty's epoll transport, which is not available here"));
        }
        if (sharedGroup != null && Transports.isIoUring(sharedGroup)) {
            return CompletableFuture.failedFuture(new NbdException("a file descriptor cannot be adopted by an "
                    + "io_uring event loop group: Netty's io_uring transport has no channel for an existing "
                    + "descriptor; create the handle with an epoll group (NbdEventLoops.newGroup) for connect(fd)"));
        }
        if (sharedGroup instanceof io.netty.channel.IoEventLoopGroup && !Transports.isEpoll(sharedGroup)) {
            return CompletableFuture.failedFuture(new NbdException("a file descriptor needs Netty's epoll "
                    + "transport, but this handle's event loop group is not an epoll group"));
        }
        Channel ch;
        try {
            ch = Transports.epollChannelForFd(fd);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(new NbdException("cannot adopt file descriptor " + fd + ": "
                    + NbdErrors.inWords(e),
                    e));
        }
        return connect(ch);
    }

    /** Installs the handshake on a channel; the state is already CONNECTING. */
    @Override
    public void adopt(Channel channel) {
        adoptChannel(channel);
    }

    private CompletableFuture<NbdConnection> adoptChannel(Channel channel) {
        this.channel = channel;
        // Larger socket reads for large replies (the reply decoder keeps them as components, without copying).
        channel.config().setRecvByteBufAllocator(new AdaptiveRecvByteBufAllocator(512, 16 * 1024, 256 * 1024));
        NegotiationHandler h = new NegotiationHandler(this, config);
        h.preparedTls(preparedTls);
        this.handshake = h;
        channel.pipeline().addLast(PipelineNames.HANDSHAKE_DECODER, h.decoder)
                .addLast(PipelineNames.HANDSHAKE_ENCODER, NbdHandshakeEncoder.INSTANCE)
                .addLast(PipelineNames.HANDSHAKE, h);
        channel.closeFuture().addListener(f -> onChannelClosed());
        if (!channel.isRegistered()) {
            EventLoopGroup group = dialler.group(channel);
            group.register(channel).addListener((ChannelFutureListener) f -> {
                if (!f.isSuccess()) {
                    fail(new NbdException("could not register the channel on an event loop: " + f.cause(),
                            f.cause()));
                    channel.unsafe().closeForcibly();
                } else {
                    channel.config().setAutoRead(true);
                }
            });
        } else {
            // A registered channel may have been set up with AUTO_READ off (the safe way to hand it over before
            // the server's greeting is read): the handshake needs reading to start. Runs after the handlers are
            // added, as both go through the channel's event loop.
            channel.eventLoop().execute(() -> channel.config().setAutoRead(true));
        }
        return readyFuture;
    }

    @Override
    public NbdState state() {
        return state.get();
    }

    @Override
    public String exportName() {
        return exportName;
    }

    @Override
    public List<String> metaContexts() {
        return metaContexts;
    }

    @Override
    public String dialledHost() {
        return dialler.dialledHost();
    }

    @Override
    public int dialledPort() {
        return dialler.dialledPort();
    }

    @Override
    public void negotiating() {
        if (state.compareAndSet(NbdState.CONNECTING, NbdState.NEGOTIATING)) {
            negotiatingFuture.complete(handle);
        }
    }

    @Override
    public void optModeUnavailable(NbdException why) {
        negotiatingFuture.completeExceptionally(why);
    }

    @Override
    public NbdConnection transmission(NbdSession session, ChannelHandlerContext ctx,
            NbdClientHandshakeDecoder decoder) {
        TransmissionHandler t = new TransmissionHandler(this, session, ctx.channel(), extentLists);
        NbdConnection c = connections.create(session, t);
        transmission = t;
        connection = c;
        t.install(ctx.pipeline(), decoder);
        if (state.compareAndSet(NbdState.CONNECTING, NbdState.READY)) {
            negotiatingFuture.complete(handle);
            readyFuture.complete(c);
        }
        return c;
    }

    @Override
    public CompletableFuture<NbdConnection> readyFuture() {
        return readyFuture;
    }

    @Override
    public NbdClientConfig config() {
        return config;
    }

    @Override
    public CompletableFuture<Void> closeFuture() {
        return closeFuture;
    }

    /**
     * Runs one option of opt mode on the event loop, with the handshake timeout; NEGOTIATING before and after.
     *
     * @param call starts the option
     * @param <T> its result
     * @return its result
     */
    public <T> CompletableFuture<T> optCall(Function<NegotiationHandler, CompletableFuture<T>> call) {
        if (!state.compareAndSet(NbdState.NEGOTIATING, NbdState.CONNECTING)) {
            return CompletableFuture.failedFuture(new NbdStateException(state.get(),
                    "the handle must be negotiating"));
        }
        CompletableFuture<T> result = new CompletableFuture<>();
        NegotiationHandler h = handshake;
        h.executor().execute(() -> {
            CompletableFuture<T> f;
            try {
                f = call.apply(h);
            } catch (RuntimeException e) {
                f = CompletableFuture.failedFuture(e);
            }
            // Each option gets the handshake timeout: a server that never answers must not hang the caller.
            ScheduledFuture<?> timer = config.handshakeTimeout().isZero() ? null : h.executor().schedule(
                    () -> fail(new NbdTimeoutException("the server did not answer the option within "
                            + NbdDurations.inWords(config.handshakeTimeout()))), config.handshakeTimeout().toNanos(),
                    TimeUnit.NANOSECONDS);
            f.whenComplete((v, e) -> {
                if (timer != null) {
                    timer.cancel(false);
                }
                state.compareAndSet(NbdState.CONNECTING, NbdState.NEGOTIATING);
                if (e != null) {
                    result.completeExceptionally(NegotiationHandler.unwrap(e));
                } else {
                    result.complete(v);
                }
            });
        });
        return result;
    }

    /**
     * See {@link NbdHandle#closeAsync()}.
     *
     * @return the close future
     */
    public CompletableFuture<Void> closeAsync() {
        NbdState previous = state.getAndUpdate(s -> s == NbdState.DEAD ? s : NbdState.CLOSED);
        NbdConnectionClosedException cause = new NbdConnectionClosedException("the handle was closed");
        failFutures(cause);
        Channel ch = channel;
        if (ch != null) {
            TransmissionHandler t = transmission;
            if (t != null) {
                t.failAll(cause);
            }
            NegotiationHandler h = handshake;
            if (h != null) {
                h.failCurrent(cause);
            }
            ch.close();
        } else {
            dialler.abort(); // the connect fails, and the dial ends the rest
            if (previous == NbdState.CREATED || previous == NbdState.CLOSED) {
                dialler.shutdown();
            }
        }
        return closeFuture;
    }

    /** See {@link NbdHandle#close()}. */
    public void close() {
        CompletableFuture<Void> f = closeAsync();
        Channel ch = channel;
        if (ch != null && ch.eventLoop().inEventLoop() || dialler.isOwnThread(Thread.currentThread())) {
            return;
        }
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            // Closing is best effort; the channel close itself does not fail.
        }
    }

    private void failFutures(Throwable cause) {
        negotiatingFuture.completeExceptionally(cause);
        readyFuture.completeExceptionally(cause);
    }

    /** Moves to DEAD (unless already closed), fails everything with the cause and closes the channel. */
    @Override
    public void fail(Throwable cause) {
        NbdState previous = state.getAndUpdate(s -> s == NbdState.CLOSED ? s : NbdState.DEAD);
        if (previous == NbdState.DEAD || previous == NbdState.CLOSED) {
            return;
        }
        failFutures(cause);
        NegotiationHandler h = handshake;
        if (h != null) {
            h.failCurrent(cause);
        }
        TransmissionHandler t = transmission;
        if (t != null) {
            t.failAll(cause);
        }
        Channel ch = channel;
        if (ch != null) {
            ch.close();
        }
    }

    /** After a clean NBD_CMD_DISC or NBD_OPT_ABORT. */
    @Override
    public void markClosed() {
        state.getAndUpdate(s -> s == NbdState.DEAD ? s : NbdState.CLOSED);
        // After NBD_OPT_ABORT the transmission phase never comes: readyFuture must not stay pending.
        failFutures(new NbdConnectionClosedException("the session ended before the transmission phase"));
    }

    private void onChannelClosed() {
        NegotiationHandler h = handshake;
        if (connection == null && h != null && h.executor() != null && h.executor().inEventLoop()) {
            // The close future fires before channelInactive: let the handshake say what it was waiting for (and
            // treat a close after NBD_OPT_ABORT as the acknowledgement) before the generic failure below.
            h.onClosed();
        }
        NbdState s = state.get();
        if (s != NbdState.CLOSED && s != NbdState.DEAD) {
            fail(new NbdConnectionClosedException(s == NbdState.READY
                    ? "the server closed the connection"
                    : "the server closed the connection during the handshake"));
        }
        dialler.shutdown();
    }
}
