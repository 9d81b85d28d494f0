package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdConnectionClosedException;
import io.nbdnetty.client.NbdDurations;
import io.nbdnetty.client.NbdErrors;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdExportEntry;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdOptionException;
import io.nbdnetty.client.NbdProtocolException;
import io.nbdnetty.client.NbdReplyStyle;
import io.nbdnetty.client.NbdStateException;
import io.nbdnetty.client.NbdStrings;
import io.nbdnetty.client.NbdTimeoutException;
import io.nbdnetty.client.NbdTlsMode;
import io.nbdnetty.codec.NbdBareOption;
import io.nbdnetty.codec.NbdClientFlags;
import io.nbdnetty.codec.NbdClientFlagsMessage;
import io.nbdnetty.codec.NbdClientHandshakeDecoder;
import io.nbdnetty.codec.NbdDecoderException;
import io.nbdnetty.codec.NbdExportInfoOption;
import io.nbdnetty.codec.NbdExportNameOption;
import io.nbdnetty.codec.NbdExportNameReply;
import io.nbdnetty.codec.NbdHandshakeFlags;
import io.nbdnetty.codec.NbdInfoType;
import io.nbdnetty.codec.NbdMetaContextOption;
import io.nbdnetty.codec.NbdNewstyleGreeting;
import io.nbdnetty.codec.NbdOldstyleGreeting;
import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdOptionReply;
import io.nbdnetty.codec.NbdOptionReplyType;
import io.nbdnetty.codec.NbdTransmissionFlags;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

/**
 * The handshake of one connection, on the event loop: the greeting, the client flags, each option in flight ({@link
 * OptionExchange}), STARTTLS, and the move to the transmission phase, which it reports to its {@link
 * NegotiationOwner} (the handle) as an immutable {@link NbdSession}; the owner installs the transmission handlers in
 * its place. What has been negotiated so far (protocol, reply style, contexts, TLS, export details) is kept here and
 * may be read from any thread.
 */
public final class NegotiationHandler extends ChannelInboundHandlerAdapter {
    private static final InternalLogger LOG = InternalLoggerFactory.getInstance(NbdHandle.class);

    private final NegotiationOwner owner;
    /** See {@link #preparedTls(io.netty.handler.ssl.SslContext)}. */
    private io.netty.handler.ssl.SslContext preparedTls;
    private final NbdClientConfig config;
    /** The handshake decoder, installed before this handler. */
    public final NbdClientHandshakeDecoder decoder;
    private ChannelHandlerContext ctx;
    // What has been negotiated so far: written on the event loop, read anywhere.
    private volatile String protocol;
    private volatile boolean structuredReplies;
    private volatile boolean extendedHeaders;
    private volatile List<NbdMetaContext> grantedContexts = List.of();
    private volatile String contextsExport;
    private volatile NbdExportInfo exportInfo;
    private volatile boolean tlsNegotiated;
    /**
     * Set when TLS comes up without this side having sent a certificate, cleared by the first reply after it: a
     * server that requires a client certificate learns, in TLS 1.3, that there is none only after the client's
     * handshake is over, and drops the connection before it answers anything. Event loop only.
     */
    private boolean noCertificateAndNoReplySinceTls;
    private OptionExchange<?> current;
    private CompletableFuture<NbdExportNameReply> exportNameReply;
    private ScheduledFuture<?> timeout;
    private boolean fixedNewstyle;
    private boolean noZeroes;
    private boolean aborting;

    /**
     * A negotiation for a handle.
     *
     * @param owner the handle
     * @param config the handle's configuration
     */
    public NegotiationHandler(NegotiationOwner owner, NbdClientConfig config) {
        this.owner = owner;
        this.config = config;
        this.decoder = new NbdClientHandshakeDecoder(config.maxOptionReplyLength());
    }

    /**
     * The TLS context to use at STARTTLS, found on the connecting thread ({@link HandleCore#prepareTls()}) so that
     * the event loop does not read certificate files; without one, it is asked for at STARTTLS.
     *
     * @param context the context, or null
     */
    void preparedTls(io.netty.handler.ssl.SslContext context) {
        this.preparedTls = context;
    }

    /**
     * The executor of the channel, once this handler is in its pipeline.
     *
     * @return the executor, or null before
     */
    public EventExecutor executor() {
        ChannelHandlerContext c = ctx;
        return c == null ? null : c.executor();
    }

    /**
     * The handshake style.
     *
     * @return "oldstyle", "newstyle" or "newstyle-fixed"; null before the greeting
     */
    public String protocol() {
        return protocol;
    }

    /**
     * Whether structured replies are negotiated.
     *
     * @return whether they are
     */
    public boolean structuredRepliesNegotiated() {
        return structuredReplies;
    }

    /**
     * Whether extended headers are negotiated.
     *
     * @return whether they are
     */
    public boolean extendedHeadersNegotiated() {
        return extendedHeaders;
    }

    /**
     * The metadata contexts the last NBD_OPT_SET_META_CONTEXT still in force granted.
     *
     * @return the contexts, maybe none
     */
    public List<NbdMetaContext> grantedContexts() {
        return grantedContexts;
    }

    /**
     * The export's details, from NBD_OPT_INFO, NBD_OPT_GO or NBD_OPT_EXPORT_NAME.
     *
     * @return the details, or null before any
     */
    public NbdExportInfo exportInfo() {
        return exportInfo;
    }

    /**
     * Whether TLS is up.
     *
     * @return whether it is
     */
    public boolean tlsNegotiated() {
        return tlsNegotiated;
    }

    /**
     * NBD_OPT_LIST.
     *
     * @param max the most exports accepted
     * @return the exports
     */
    public CompletableFuture<List<NbdExportEntry>> list(int max) {
        return exchange(new OptionExchange.ExportList(NbdBareOption.LIST, max)).result;
    }

    /**
     * Unwraps a {@link CompletionException}.
     *
     * @param e a failure
     * @return its cause if it is a completion exception with one, else {@code e}
     */
    public static Throwable unwrap(Throwable e) {
        return e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        if (!config.handshakeTimeout().isZero()) {
            timeout = ctx.executor().schedule(() -> owner.fail(new NbdTimeoutException("the handshake did not finish "
                    + "within " + NbdDurations.inWords(config.handshakeTimeout()))),
                    config.handshakeTimeout().toNanos(),
                    TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        cancelTimeout();
    }

    private void cancelTimeout() {
        if (timeout != null) {
            timeout.cancel(false);
            timeout = null;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (config.debug() && LOG.isDebugEnabled()) {
            LOG.debug("{}: recv {}", ctx.channel(), msg);
        }
        try {
            if (msg instanceof NbdOptionReply reply) {
                noCertificateAndNoReplySinceTls = false;
                onOptionReply(reply);
            } else if (msg instanceof NbdNewstyleGreeting g) {
                onNewstyle(g);
            } else if (msg instanceof NbdOldstyleGreeting g) {
                onOldstyle(g);
            } else if (msg instanceof NbdExportNameReply r) {
                CompletableFuture<NbdExportNameReply> f = exportNameReply;
                exportNameReply = null;
                if (f == null) {
                    throw new NbdProtocolException("unexpected export name reply");
                }
                f.complete(r);
            } else {
                throw new NbdProtocolException("unexpected message in the handshake: " + msg);
            }
        } catch (NbdProtocolException e) {
            owner.fail(e);
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (aborting && current != null && cause instanceof IOException) {
            // nbd-server answers NBD_OPT_ABORT by closing with a reset: the session is over, as asked.
            onClosed();
            ctx.close();
        } else if (cause instanceof NbdDecoderException) {
            owner.fail(new NbdProtocolException("malformed handshake message from the server: " + cause.getMessage(),
                    cause));
        } else {
            owner.fail(new NbdConnectionClosedException("I/O error during the handshake" + withServer() + ": "
                    + NbdErrors.inWords(cause) + clientCertificateHint(), cause));
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        onClosed();
    }

    /**
     * What to add to a failure of the handshake that may be a server refusing a client without a certificate: the
     * connection lost right after TLS came up, before any reply, with no certificate sent.
     */
    private String clientCertificateHint() {
        return noCertificateAndNoReplySinceTls
                ? " (right after TLS was set up, and no client certificate was sent: the server may require one; it "
                + "is read from client-cert.pem and client-key.pem in the tls-certificates directory)"
                : "";
    }

    /** " with ADDRESS", the server's address or socket path as the channel knows it, for a failure's message. */
    private String withServer() {
        SocketAddress a = ctx == null ? null : ctx.channel().remoteAddress();
        String where = a instanceof InetSocketAddress i && i.getAddress() != null ? Dialler.addressString(i)
                : a instanceof DomainSocketAddress d ? d.path()
                : a instanceof UnixDomainSocketAddress u ? u.getPath().toString() : "";
        return where.isEmpty() ? "" : " with " + where;
    }

    /** The channel closed during the handshake; idempotent. On the event loop. */
    public void onClosed() {
        if (aborting && current != null) {
            // Some servers (nbd-server) close instead of acknowledging NBD_OPT_ABORT.
            ((OptionExchange<?>) current).result.complete(null);
            current = null;
            return;
        }
        String waiting = current != null ? " while waiting for the reply to " + current.option()
                : exportNameReply != null ? " after NBD_OPT_EXPORT_NAME (unknown export?)" : "";
        owner.fail(new NbdConnectionClosedException("the server closed the connection during the handshake"
                + withServer() + waiting + clientCertificateHint()));
    }

    public void failCurrent(Throwable cause) {
        cancelTimeout();
        OptionExchange<?> c = current;
        current = null;
        if (c != null) {
            c.result.completeExceptionally(cause);
        }
        CompletableFuture<NbdExportNameReply> f = exportNameReply;
        exportNameReply = null;
        if (f != null) {
            f.completeExceptionally(cause);
        }
    }

    private void onOptionReply(NbdOptionReply reply) throws NbdProtocolException {
        OptionExchange<?> c = current;
        if (c == null) {
            throw new NbdProtocolException("server sent " + reply.type() + " for " + reply.option()
                    + " when no option was in flight");
        }
        // Cleared first: completing the exchange may start the next option at once.
        current = null;
        boolean finished;
        try {
            finished = c.onReply(reply);
        } catch (NbdProtocolException e) {
            c.result.completeExceptionally(e);
            throw e;
        }
        if (!finished) {
            current = c;
        }
    }

    private void onOldstyle(NbdOldstyleGreeting g) {
        protocol = "oldstyle";
        NbdExportInfo info = new NbdExportInfo(g.exportSize(), g.transmissionFlags(), 1, 4096,
                NbdExportInfo.DEFAULT_MAXIMUM_PAYLOAD, false, "", null);
        if (g.exportSize() < 0) {
            owner.fail(new NbdProtocolException("export size " + Long.toUnsignedString(g.exportSize())
                    + " is larger than this client supports"));
            return;
        }
        enterTransmission(info);
    }

    private void onNewstyle(NbdNewstyleGreeting g) {
        int serverFlags = g.handshakeFlags();
        fixedNewstyle = (serverFlags & NbdHandshakeFlags.FIXED_NEWSTYLE) != 0
                && (config.handshakeFlags() & NbdHandshakeFlags.FIXED_NEWSTYLE) != 0;
        noZeroes = (serverFlags & NbdHandshakeFlags.NO_ZEROES) != 0
                && (config.handshakeFlags() & NbdHandshakeFlags.NO_ZEROES) != 0;
        protocol = fixedNewstyle ? "newstyle-fixed" : "newstyle";
        int clientFlags = (fixedNewstyle ? NbdClientFlags.FIXED_NEWSTYLE : 0)
                | (noZeroes ? NbdClientFlags.NO_ZEROES : 0);
        write(new NbdClientFlagsMessage(clientFlags));
        if (!fixedNewstyle && config.tls() == NbdTlsMode.REQUIRE) {
            owner.fail(new NbdException("TLS is required, but the server does not support fixed newstyle "
                    + "negotiation, so NBD_OPT_STARTTLS cannot be sent"));
            return;
        }
        if (!fixedNewstyle) {
            // Without fixed newstyle the only safe option is EXPORT_NAME; opt mode cannot work.
            owner.optModeUnavailable(new NbdException(
                    "the server does not support fixed newstyle negotiation, so opt mode is unavailable"));
            exportName().whenComplete(this::afterGo);
            return;
        }
        CompletableFuture<Boolean> stage = config.tls() == NbdTlsMode.DISABLE
                ? CompletableFuture.completedFuture(false) : startTls(config.tls() == NbdTlsMode.REQUIRE);
        if (config.requestExtendedHeaders()) {
            stage = stage.thenCompose(x -> extendedHeaders());
        }
        if (config.requestStructuredReplies()) {
            stage = stage.thenCompose(x -> extendedHeaders ? CompletableFuture.completedFuture(true)
                    : structuredReply());
        }
        stage.whenComplete((x, e) -> {
            if (e != null) {
                owner.fail(unwrap(e));
            } else if (config.optMode()) {
                cancelTimeout();
                owner.negotiating();
            } else {
                go().whenComplete((conn, err) -> {
                    if (err != null) {
                        owner.fail(unwrap(err));
                    }
                });
            }
        });
    }

    private void write(Object msg) {
        if (config.debug() && LOG.isDebugEnabled()) {
            LOG.debug("{}: send {}", ctx.channel(), msg);
        }
        ctx.writeAndFlush(msg).addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                owner.fail(new NbdException("could not send " + msg + ": " + f.cause(), f.cause()));
            }
        });
    }

    <T> OptionExchange<T> exchange(OptionExchange<T> ex) {
        if (current != null || exportNameReply != null) {
            ex.result.completeExceptionally(new IllegalStateException("an option is already in flight"));
            return ex;
        }
        current = ex;
        write(ex.request);
        return ex;
    }

    /** Sends an option answered by ACK; an error reply means "not supported" (false). */
    private CompletableFuture<Boolean> ackOrRefusal(NbdBareOption option) {
        return exchange(new OptionExchange.Ack(option)).result.handle((ok, e) -> {
            if (e == null) {
                return true;
            }
            if (unwrap(e) instanceof NbdOptionException) {
                return false;
            }
            throw new CompletionException(unwrap(e));
        });
    }

    /** NBD_OPT_STARTTLS, then the TLS handshake; true once TLS is up, false if refused and not required. */
    public CompletableFuture<Boolean> startTls(boolean required) {
        if (tlsNegotiated) {
            return CompletableFuture.failedFuture(new NbdStateException(owner.state(),
                    "TLS is already negotiated"));
        }
        return exchange(new OptionExchange.Ack(NbdBareOption.STARTTLS)).result.handle((ok, e) -> {
            Throwable cause = e == null ? null : unwrap(e);
            if (cause == null) {
                return installTls();
            }
            if (cause instanceof NbdOptionException o) {
                if (required) {
                    return CompletableFuture.<Boolean>failedFuture(new NbdOptionException(o.option(),
                            o.replyType(), "TLS is required, but the server refused NBD_OPT_STARTTLS"
                            + (o.serverMessage().isEmpty() ? "" : ": " + NbdStrings.shown(o.serverMessage()))));
                }
                return CompletableFuture.completedFuture(false);
            }
            return CompletableFuture.<Boolean>failedFuture(cause);
        }).thenCompose(f -> f);
    }

    private CompletableFuture<Boolean> installTls() {
        CompletableFuture<Boolean> done = new CompletableFuture<>();
        SslHandler ssl;
        try {
            String host = config.tlsHostname() != null ? config.tlsHostname() : owner.dialledHost();
            ssl = NbdTls.handler(preparedTls, config, ctx.alloc(), host, owner.dialledPort());
        } catch (SSLException | RuntimeException e) {
            return CompletableFuture.failedFuture(new NbdException("cannot set up TLS: "
                    + NbdErrors.inWords(e), e));
        }
        ctx.pipeline().addFirst(PipelineNames.TLS, ssl);
        ssl.handshakeFuture().addListener(f -> {
            if (f.isSuccess()) {
                decoder.tlsEstablished();
                tlsNegotiated = true;
                noCertificateAndNoReplySinceTls = ssl.engine().getSession().getLocalCertificates() == null;
                // The spec: nothing negotiated before STARTTLS survives it.
                structuredReplies = false;
                extendedHeaders = false;
                grantedContexts = List.of();
                done.complete(true);
            } else {
                done.completeExceptionally(new NbdException("TLS handshake failed: "
                        + NbdErrors.inWords(f.cause()),
                        f.cause()));
            }
        });
        return done;
    }

    public CompletableFuture<Boolean> extendedHeaders() {
        return ackOrRefusal(NbdBareOption.EXTENDED_HEADERS).thenApply(ok -> {
            if (ok) {
                extendedHeaders = true;
                // Extended headers supersede structured replies, and need contexts negotiated again.
                structuredReplies = true;
                grantedContexts = List.of();
            }
            return ok;
        });
    }

    public CompletableFuture<Boolean> structuredReply() {
        return ackOrRefusal(NbdBareOption.STRUCTURED_REPLY).thenApply(ok -> {
            if (ok) {
                structuredReplies = true;
                grantedContexts = List.of();
            }
            return ok;
        });
    }

    public CompletableFuture<List<NbdMetaContext>> metaContexts(NbdOption option, List<String> queries) {
        boolean set = option.equals(NbdOption.SET_META_CONTEXT);
        String export = owner.exportName();
        CompletableFuture<List<NbdMetaContext>> f = exchange(new OptionExchange.MetaContexts(
                new NbdMetaContextOption(option, export, queries), set, NbdHandle.MAX_META_CONTEXTS)).result;
        if (set) {
            f = f.whenComplete((contexts, e) -> {
                grantedContexts = e == null ? contexts : List.of();
                contextsExport = e == null ? export : null;
            });
        }
        return f;
    }

    private NbdExportInfoOption infoOption(NbdOption option) {
        List<NbdInfoType> requests = new ArrayList<>();
        if (config.fullInfo()) {
            requests.add(NbdInfoType.NAME);
            requests.add(NbdInfoType.DESCRIPTION);
        }
        if (config.requestBlockSize()) {
            requests.add(NbdInfoType.BLOCK_SIZE);
        }
        return new NbdExportInfoOption(option, owner.exportName(), requests);
    }

    /** Negotiates the configured contexts first when they apply (failures there are not fatal). */
    private CompletableFuture<?> contextsBefore() {
        List<String> wanted = owner.metaContexts();
        if (!structuredReplies || !config.requestMetaContext() || wanted.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        return metaContexts(NbdOption.SET_META_CONTEXT, wanted).handle((c, e) -> {
            Throwable cause = e == null ? null : unwrap(e);
            if (cause != null && !(cause instanceof NbdOptionException)) {
                throw new CompletionException(cause);
            }
            return null;
        });
    }

    public CompletableFuture<NbdExportInfo> info() {
        return contextsBefore().thenCompose(x -> exchange(new OptionExchange.Info(infoOption(NbdOption.INFO),
                owner.exportName())).result).thenApply(info -> {
                    exportInfo = info;
                    return info;
                });
    }

    public CompletableFuture<NbdConnection> go() {
        return contextsBefore()
                .thenCompose(x -> exchange(new OptionExchange.Info(infoOption(NbdOption.GO), owner.exportName()))
                        .result)
                .handle(this::afterGoReply)
                .thenCompose(f -> f);
    }

    private CompletableFuture<NbdConnection> afterGoReply(NbdExportInfo info, Throwable e) {
        Throwable cause = e == null ? null : unwrap(e);
        if (cause == null) {
            enterTransmission(info);
            return owner.readyFuture();
        }
        if (cause instanceof NbdOptionException o && o.replyType().equals(NbdOptionReplyType.ERR_UNSUP)) {
            // An old server without NBD_OPT_GO: fall back to NBD_OPT_EXPORT_NAME.
            return exportName().whenComplete(this::afterGo);
        }
        return CompletableFuture.failedFuture(cause);
    }

    private CompletableFuture<NbdConnection> exportName() {
        exportNameReply = new CompletableFuture<>();
        CompletableFuture<NbdExportNameReply> f = exportNameReply;
        decoder.expectExportNameReply(!noZeroes);
        String exportName = owner.exportName();
        write(new NbdExportNameOption(exportName));
        return f.thenApply(r -> {
            if (r.exportSize() < 0) {
                throw new CompletionException(new NbdProtocolException("export size "
                        + Long.toUnsignedString(r.exportSize()) + " is larger than this client supports"));
            }
            return enterTransmission(new NbdExportInfo(r.exportSize(), r.transmissionFlags(), 1, 4096,
                    NbdExportInfo.DEFAULT_MAXIMUM_PAYLOAD, false, exportName, null));
        });
    }

    private void afterGo(NbdConnection c, Throwable e) {
        if (e != null) {
            owner.fail(unwrap(e));
        }
    }

    public CompletableFuture<Void> abort() {
        aborting = true;
        return exchange(new OptionExchange.Ack(NbdBareOption.ABORT)).result.handle((ok, e) -> {
            owner.markClosed();
            ctx.channel().close();
            Throwable cause = e == null ? null : unwrap(e);
            if (cause != null && !(cause instanceof NbdOptionException)) {
                throw new CompletionException(cause);
            }
            return null;
        });
    }

    private NbdConnection enterTransmission(NbdExportInfo info) {
        cancelTimeout();
        if ((info.transmissionFlags() & NbdTransmissionFlags.HAS_FLAGS) == 0 && !"oldstyle".equals(protocol)) {
            // The spec requires HAS_FLAGS; without it no other flag can be trusted.
            info = new NbdExportInfo(info.size(), 0, info.minimumBlockSize(), info.preferredBlockSize(),
                    info.maximumBlockSize(), info.blockSizeAdvertised(), info.canonicalName(),
                    info.description());
        }
        exportInfo = info;
        String exportName = owner.exportName();
        List<NbdMetaContext> contexts = exportName.equals(contextsExport) ? grantedContexts : List.of();
        if (!exportName.equals(contextsExport)) {
            grantedContexts = List.of();
        }
        NbdReplyStyle style = extendedHeaders ? NbdReplyStyle.EXTENDED
                : structuredReplies ? NbdReplyStyle.STRUCTURED : NbdReplyStyle.SIMPLE;
        return owner.transmission(new NbdSession(config, info, style, contexts), ctx, decoder);
    }
}
