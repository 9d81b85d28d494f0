package io.nbdnetty.examples.server;

import io.nbdnetty.codec.NbdAckReply;
import io.nbdnetty.codec.NbdBareOption;
import io.nbdnetty.codec.NbdClientFlags;
import io.nbdnetty.codec.NbdClientFlagsMessage;
import io.nbdnetty.codec.NbdErrorReply;
import io.nbdnetty.codec.NbdExportInfoOption;
import io.nbdnetty.codec.NbdExportNameOption;
import io.nbdnetty.codec.NbdExportNameReply;
import io.nbdnetty.codec.NbdHandshakeEncoder;
import io.nbdnetty.codec.NbdHandshakeFlags;
import io.nbdnetty.codec.NbdInfo;
import io.nbdnetty.codec.NbdInfoReply;
import io.nbdnetty.codec.NbdInfoType;
import io.nbdnetty.codec.NbdMetaContextOption;
import io.nbdnetty.codec.NbdMetaContextReply;
import io.nbdnetty.codec.NbdNewstyleGreeting;
import io.nbdnetty.codec.NbdOldstyleGreeting;
import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdOptionReply;
import io.nbdnetty.codec.NbdOptionReplyType;
import io.nbdnetty.codec.NbdOptionRequest;
import io.nbdnetty.codec.NbdRawOption;
import io.nbdnetty.codec.NbdReplyEncoder;
import io.nbdnetty.codec.NbdRequestDecoder;
import io.nbdnetty.codec.NbdServerHandshakeDecoder;
import io.nbdnetty.codec.NbdServerReply;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.util.ReferenceCountUtil;

import java.util.List;

/**
 * The server side of the fixed newstyle handshake, for one connection: sends the greeting, answers options, and on
 * {@code NBD_OPT_GO} or {@code NBD_OPT_EXPORT_NAME} replaces the handshake handlers with the transmission ones.
 * Not sharable.
 */
final class NbdServerHandshakeHandler extends ChannelInboundHandlerAdapter {
    static final String ENCODER_NAME = "nbd-handshake-encoder";
    static final String DECODER_NAME = "nbd-handshake-decoder";
    static final String HANDLER_NAME = "nbd-handshake";
    static final String REQUEST_DECODER_NAME = "nbd-request-decoder";
    static final String REPLY_ENCODER_NAME = "nbd-reply-encoder";
    static final String TRANSMISSION_NAME = "nbd-transmission";

    private static final System.Logger LOG = System.getLogger(NbdServerHandshakeHandler.class.getName());

    private final ServerConfig config;
    private final NbdServerHandshakeDecoder decoder;
    private boolean greeted;
    private boolean flagsReceived;
    private boolean fixedNewstyle;
    private boolean noZeroes;
    private boolean structuredReplies;
    private boolean extendedHeaders;
    /** The export the last SET_META_CONTEXT selected contexts for, or null. */
    private ExportEntry contextExport;
    /** The contexts it selected ({@link ServerConfig#SELECT_BASE_ALLOCATION} ...). */
    private int contextSelection;
    private boolean done;

    private NbdServerHandshakeHandler(ServerConfig config, NbdServerHandshakeDecoder decoder) {
        this.config = config;
        this.decoder = decoder;
    }

    /** Adds the newstyle handshake handlers to a new connection's pipeline. */
    static void install(ChannelPipeline p, ServerConfig config) {
        NbdServerHandshakeDecoder decoder = new NbdServerHandshakeDecoder();
        p.addLast(ENCODER_NAME, NbdHandshakeEncoder.INSTANCE);
        p.addLast(DECODER_NAME, decoder);
        p.addLast(HANDLER_NAME, new NbdServerHandshakeHandler(config, decoder));
    }

    /** Sets up an oldstyle connection: greeting with the default export, then transmission at once. */
    static void startOldstyle(Channel ch, ServerConfig config) {
        ExportEntry export = config.defaultExport();
        int flags = config.transmissionFlags(export, false, false, false);
        ChannelPipeline p = ch.pipeline();
        p.addLast(REQUEST_DECODER_NAME, new NbdRequestDecoder(false, config.maxPayload()));
        p.addLast(REPLY_ENCODER_NAME, new NbdReplyEncoder(false));
        p.addLast(TRANSMISSION_NAME, new NbdServerTransmissionHandler(config, export, false, false, 0));
        p.addLast(new ChannelInboundHandlerAdapter() {
            private boolean sent;

            @Override
            public void handlerAdded(ChannelHandlerContext ctx) {
                if (ctx.channel().isActive()) {
                    send(ctx);
                }
            }

            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                send(ctx);
                ctx.fireChannelActive();
            }

            private void send(ChannelHandlerContext ctx) {
                if (!sent) {
                    sent = true;
                    ctx.writeAndFlush(new NbdOldstyleGreeting(export.export().size(), flags))
                            .addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
                    ctx.pipeline().remove(this);
                }
            }
        });
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        // A channel handed to NbdServer.serve may already be connected: greet now (like Http2ConnectionHandler).
        if (ctx.channel().isActive()) {
            greet(ctx);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        greet(ctx);
        ctx.fireChannelActive();
    }

    private void greet(ChannelHandlerContext ctx) {
        if (!greeted) {
            greeted = true;
            ctx.writeAndFlush(new NbdNewstyleGreeting(NbdHandshakeFlags.FIXED_NEWSTYLE | NbdHandshakeFlags.NO_ZEROES))
                    .addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (done) {
                return;
            }
            if (msg instanceof NbdClientFlagsMessage m) {
                clientFlags(ctx, m.clientFlags());
            } else if (msg instanceof NbdOptionRequest r) {
                option(ctx, r);
            } else {
                LOG.log(System.Logger.Level.WARNING, "unexpected message during the handshake: {0}", msg);
                ctx.close();
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void clientFlags(ChannelHandlerContext ctx, int flags) {
        // proto.md: "the server MUST close the TCP connection if it does not recognize the client's flags".
        if ((flags & ~NbdClientFlags.ALL) != 0) {
            LOG.log(System.Logger.Level.INFO, "closing {0}: unknown client flags {1}", ctx.channel(),
                    NbdClientFlags.toString(flags));
            abort(ctx);
            return;
        }
        flagsReceived = true;
        fixedNewstyle = (flags & NbdClientFlags.FIXED_NEWSTYLE) != 0;
        noZeroes = (flags & NbdClientFlags.NO_ZEROES) != 0;
    }

    private void option(ChannelHandlerContext ctx, NbdOptionRequest r) {
        NbdOption option = r.option();
        if (!flagsReceived) {
            abort(ctx);
            return;
        }
        if (!fixedNewstyle && !option.equals(NbdOption.EXPORT_NAME)) {
            // Plain newstyle has no way to refuse an option: all the server can do is hang up.
            abort(ctx);
            return;
        }
        if (option.equals(NbdOption.ABORT)) {
            ctx.writeAndFlush(new NbdAckReply(option)).addListener(ChannelFutureListener.CLOSE);
            done = true;
            return;
        }
        if (r instanceof NbdRawOption raw) {
            if (option.equals(NbdOption.EXPORT_NAME)) {
                abort(ctx); // A name over 4096 bytes: EXPORT_NAME cannot be refused politely either.
            } else if (raw.malformed() && isImplemented(option)) {
                reply(ctx, error(option, NbdOptionReplyType.ERR_INVALID, "malformed " + option + " request ("
                        + raw.length() + " bytes of data)"));
            } else {
                reply(ctx, error(option, NbdOptionReplyType.ERR_UNSUP, option + " is not supported"));
            }
            return;
        }
        if (r instanceof NbdExportNameOption o) {
            exportName(ctx, o.exportName());
        } else if (r instanceof NbdExportInfoOption o) {
            info(ctx, o);
        } else if (r instanceof NbdMetaContextOption o) {
            metaContext(ctx, o);
        } else if (r instanceof NbdBareOption) {
            bare(ctx, option);
        } else {
            reply(ctx, error(option, NbdOptionReplyType.ERR_UNSUP, option + " is not supported"));
        }
    }

    private static boolean isImplemented(NbdOption o) {
        return o.equals(NbdOption.LIST) || o.equals(NbdOption.STARTTLS) || o.equals(NbdOption.INFO)
                || o.equals(NbdOption.GO) || o.equals(NbdOption.STRUCTURED_REPLY)
                || o.equals(NbdOption.LIST_META_CONTEXT) || o.equals(NbdOption.SET_META_CONTEXT)
                || o.equals(NbdOption.EXTENDED_HEADERS);
    }

    private void bare(ChannelHandlerContext ctx, NbdOption option) {
        if (option.equals(NbdOption.LIST)) {
            for (ExportEntry e : config.exports().values()) {
                ctx.write(new NbdServerReply(option, e.name(), e.description()));
            }
            reply(ctx, new NbdAckReply(option));
        } else if (option.equals(NbdOption.STARTTLS)) {
            reply(ctx, error(option, NbdOptionReplyType.ERR_POLICY, "this server does not offer TLS"));
        } else if (option.equals(NbdOption.STRUCTURED_REPLY)) {
            if (!config.structuredReplies()) {
                reply(ctx, error(option, NbdOptionReplyType.ERR_UNSUP, "structured replies are switched off"));
            } else if (extendedHeaders) {
                // proto-extended-headers.md: extended headers take precedence over structured replies.
                reply(ctx, error(option, NbdOptionReplyType.ERR_EXT_HEADER_REQD,
                        "extended headers are already negotiated"));
            } else {
                structuredReplies = true;
                reply(ctx, new NbdAckReply(option));
            }
        } else if (option.equals(NbdOption.EXTENDED_HEADERS)) {
            if (!config.extendedHeaders()) {
                reply(ctx, error(option, NbdOptionReplyType.ERR_UNSUP, "extended headers are switched off"));
            } else {
                extendedHeaders = true;
                reply(ctx, new NbdAckReply(option));
            }
        } else {
            reply(ctx, error(option, NbdOptionReplyType.ERR_UNSUP, option + " is not supported"));
        }
    }

    private void exportName(ChannelHandlerContext ctx, String name) {
        ExportEntry export = config.lookup(name);
        if (export == null || extendedHeaders) {
            // EXPORT_NAME has no error reply (and is forbidden after extended headers): hang up.
            LOG.log(System.Logger.Level.INFO, "closing {0}: {1}", ctx.channel(), export == null
                    ? "unknown export \"" + name + "\"" : "NBD_OPT_EXPORT_NAME after extended headers");
            abort(ctx);
            return;
        }
        int contexts = export == contextExport ? contextSelection : 0;
        int flags = config.transmissionFlags(export, structuredReplies, false, contexts != 0);
        decoder.finish();
        ctx.write(new NbdExportNameReply(export.export().size(), flags, !noZeroes));
        startTransmission(ctx, export, contexts);
    }

    private void info(ChannelHandlerContext ctx, NbdExportInfoOption o) {
        NbdOption option = o.option();
        ExportEntry export = config.lookup(o.exportName());
        if (export == null) {
            reply(ctx, error(option, NbdOptionReplyType.ERR_UNKNOWN, "unknown export \"" + o.exportName() + "\""));
            return;
        }
        boolean structured = structuredReplies || extendedHeaders;
        int contexts = export == contextExport ? contextSelection : 0;
        List<NbdInfoType> asked = o.infoRequests();
        ctx.write(new NbdInfoReply(option, new NbdInfo.Export(export.export().size(),
                config.transmissionFlags(export, structured, extendedHeaders, contexts != 0))));
        if (asked.contains(NbdInfoType.NAME)) {
            ctx.write(new NbdInfoReply(option, new NbdInfo.Name(export.name())));
        }
        if (asked.contains(NbdInfoType.DESCRIPTION) && !export.description().isEmpty()) {
            ctx.write(new NbdInfoReply(option, new NbdInfo.Description(export.description())));
        }
        if (asked.contains(NbdInfoType.BLOCK_SIZE) || config.blockSizes() != null) {
            int[] b = config.blockSizes() != null ? config.blockSizes()
                    : new int[] {1, 4096, NbdServer.DEFAULT_MAX_PAYLOAD};
            ctx.write(new NbdInfoReply(option, new NbdInfo.BlockSize(b[0], b[1], b[2])));
        }
        if (option.equals(NbdOption.INFO)) {
            reply(ctx, new NbdAckReply(option));
            return;
        }
        decoder.finish();
        ctx.write(new NbdAckReply(option));
        startTransmission(ctx, export, contexts);
    }

    private void metaContext(ChannelHandlerContext ctx, NbdMetaContextOption o) {
        NbdOption option = o.option();
        boolean set = option.equals(NbdOption.SET_META_CONTEXT);
        if (set) {
            // proto.md: SET_META_CONTEXT replaces the previous selection, even when it fails.
            contextExport = null;
            if (!structuredReplies && !extendedHeaders) {
                reply(ctx, error(option, NbdOptionReplyType.ERR_INVALID,
                        "negotiate structured replies or extended headers first"));
                return;
            }
        }
        ExportEntry export = config.lookup(o.exportName());
        if (export == null) {
            reply(ctx, error(option, NbdOptionReplyType.ERR_UNKNOWN, "unknown export \"" + o.exportName() + "\""));
            return;
        }
        int selected = 0;
        if (o.queries().isEmpty()) {
            // An empty LIST asks for every context; an empty SET selects none.
            selected = set ? 0 : ServerConfig.SELECT_BASE_ALLOCATION | ServerConfig.SELECT_ALLOCATION_DEPTH;
        } else {
            for (String q : o.queries()) {
                // "base:" names the whole namespace, "qemu:" too when listing; unknown namespaces and names are
                // ignored.
                if (q.equals(ServerConfig.BASE_ALLOCATION) || q.equals("base:")) {
                    selected |= ServerConfig.SELECT_BASE_ALLOCATION;
                } else if (q.equals(ServerConfig.ALLOCATION_DEPTH) || !set && q.equals("qemu:")) {
                    selected |= ServerConfig.SELECT_ALLOCATION_DEPTH;
                }
            }
        }
        if ((selected & ServerConfig.SELECT_BASE_ALLOCATION) != 0) {
            ctx.write(new NbdMetaContextReply(option, set ? ServerConfig.BASE_ALLOCATION_ID : 0,
                    ServerConfig.BASE_ALLOCATION));
        }
        if ((selected & ServerConfig.SELECT_ALLOCATION_DEPTH) != 0) {
            ctx.write(new NbdMetaContextReply(option, set ? ServerConfig.ALLOCATION_DEPTH_ID : 0,
                    ServerConfig.ALLOCATION_DEPTH));
        }
        if (set && selected != 0) {
            contextExport = export;
            contextSelection = selected;
        }
        reply(ctx, new NbdAckReply(option));
    }

    private void startTransmission(ChannelHandlerContext ctx, ExportEntry export, int contexts) {
        done = true;
        boolean structured = structuredReplies || extendedHeaders;
        if (extendedHeaders) {
            config.extendedSessions().increment();
        }
        ctx.flush();
        ChannelPipeline p = ctx.pipeline();
        p.addAfter(DECODER_NAME, REQUEST_DECODER_NAME, new NbdRequestDecoder(extendedHeaders, config.maxPayload()));
        p.addAfter(REQUEST_DECODER_NAME, REPLY_ENCODER_NAME, new NbdReplyEncoder(extendedHeaders));
        p.addAfter(REPLY_ENCODER_NAME, TRANSMISSION_NAME,
                new NbdServerTransmissionHandler(config, export, structured, extendedHeaders, contexts));
        p.remove(this);
        p.remove(ENCODER_NAME);
        // Last: removing the decoder hands the bytes it holds (requests the client pipelined) to the request decoder.
        p.remove(DECODER_NAME);
        LOG.log(System.Logger.Level.DEBUG, "{0}: transmission on export \"{1}\"{2}{3}{4}", ctx.channel(), export.name(),
                extendedHeaders ? ", extended headers" : structured ? ", structured replies" : "",
                (contexts & ServerConfig.SELECT_BASE_ALLOCATION) != 0 ? ", base:allocation" : "",
                (contexts & ServerConfig.SELECT_ALLOCATION_DEPTH) != 0 ? ", qemu:allocation-depth" : "");
    }

    private void reply(ChannelHandlerContext ctx, NbdOptionReply reply) {
        ctx.writeAndFlush(reply).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    }

    private static NbdErrorReply error(NbdOption option, NbdOptionReplyType type, String message) {
        return new NbdErrorReply(option, type, message);
    }

    private void abort(ChannelHandlerContext ctx) {
        done = true;
        ctx.flush();
        ctx.close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (done) {
            // Already hanging up; bytes the client sent after that do not matter.
            ctx.close();
            return;
        }
        done = true;
        LOG.log(System.Logger.Level.INFO, "closing {0} during the handshake: {1}", ctx.channel(), cause.toString());
        ctx.close();
    }
}
