package io.nbdnetty.client;

import io.nbdnetty.client.internal.NbdSession;
import io.nbdnetty.client.internal.NegotiationHandler;
import io.nbdnetty.client.internal.NegotiationOwner;
import io.nbdnetty.client.internal.PipelineNames;
import io.nbdnetty.codec.NbdClientHandshakeDecoder;
import io.nbdnetty.codec.NbdHandshakeEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The negotiation handler on its own, in an {@link EmbeddedChannel}: the server's greeting and option replies in,
 * the client's flags and options out, as the bytes proto.md gives ("Newstyle negotiation": NBDMAGIC, IHAVEOPT,
 * option reply magic 0x0003e889045565a9; "Oldstyle negotiation": NBDMAGIC, 0x00420281861253), and the session it
 * reports to its owner at the end; no socket, no sleep.
 */
class NegotiationHandlerTest {
    private static final String NEWSTYLE_GREETING = "4e42444d41474943 49484156454f5054 0003";
    private static final String IHAVEOPT = "49484156454f5054";
    private static final String REPLY = "0003e889045565a9";

    /** Records what the handshake reports, as the handle would act on it. */
    private static final class Owner implements NegotiationOwner {
        final List<Throwable> failures = new ArrayList<>();
        final List<NbdSession> sessions = new ArrayList<>();
        final CompletableFuture<NbdConnection> ready = new CompletableFuture<>();

        @Override
        public void fail(Throwable cause) {
            failures.add(cause);
        }

        @Override
        public void markClosed() {
        }

        @Override
        public void close() {
        }

        @Override
        public NbdState state() {
            return NbdState.CONNECTING;
        }

        @Override
        public String exportName() {
            return "disk";
        }

        @Override
        public List<String> metaContexts() {
            return List.of();
        }

        @Override
        public String dialledHost() {
            return null;
        }

        @Override
        public int dialledPort() {
            return -1;
        }

        @Override
        public void negotiating() {
            failures.add(new AssertionError("not in opt mode"));
        }

        @Override
        public void optModeUnavailable(NbdException why) {
        }

        @Override
        public NbdConnection transmission(NbdSession session, ChannelHandlerContext ctx,
                NbdClientHandshakeDecoder decoder) {
            sessions.add(session);
            return null;
        }

        @Override
        public CompletableFuture<NbdConnection> readyFuture() {
            return ready;
        }
    }

    private final Owner owner = new Owner();
    private final EmbeddedChannel channel = new EmbeddedChannel();
    private NegotiationHandler handler;

    private void start(NbdClientConfig config) {
        handler = new NegotiationHandler(owner, config);
        channel.pipeline().addLast(PipelineNames.HANDSHAKE_DECODER, handler.decoder)
                .addLast(PipelineNames.HANDSHAKE_ENCODER, NbdHandshakeEncoder.INSTANCE)
                .addLast(PipelineNames.HANDSHAKE, handler);
    }

    private static NbdClientConfig.Builder plain() {
        // No extended headers, contexts or block size: the exchange below is the shortest newstyle one.
        return NbdClientConfig.builder().requestExtendedHeaders(false).requestMetaContext(false)
                .requestBlockSize(false).handshakeTimeout(java.time.Duration.ZERO);
    }

    private void receive(String hex) {
        channel.writeInbound(Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(hex.replace(" ", ""))));
    }

    private String written() {
        StringBuilder b = new StringBuilder();
        Object o;
        while ((o = channel.readOutbound()) != null) {
            ByteBuf buf = (ByteBuf) o;
            b.append(ByteBufUtil.hexDump(buf));
            buf.release();
        }
        return b.toString();
    }

    private static String hex(String spaced) {
        return spaced.replace(" ", "");
    }

    /** NBD_REP_INFO with NBD_INFO_EXPORT (0) for GO: 1 MiB, HAS_FLAGS | READ_ONLY; then NBD_REP_ACK. */
    private static final String GO_REPLIES = REPLY + " 00000007 00000003 0000000c 0000 0000000000100000 0003"
            + REPLY + " 00000007 00000001 00000000";
    /** NBD_OPT_GO (7) for "disk", no information requests. */
    private static final String GO = IHAVEOPT + " 00000007 0000000a 00000004 6469736b 0000";

    @Test
    void fixedNewstyleWithStructuredRepliesThenGoReportsTheSession() {
        start(plain().build());
        try {
            receive(NEWSTYLE_GREETING);
            // Client flags FIXED_NEWSTYLE | NO_ZEROES, then NBD_OPT_STRUCTURED_REPLY (8) without data.
            assertEquals(hex("00000003" + IHAVEOPT + " 00000008 00000000"), written());
            receive(REPLY + " 00000008 00000001 00000000");
            assertEquals(hex(GO), written());
            assertTrue(handler.structuredRepliesNegotiated());
            receive(GO_REPLIES);
            assertEquals(List.of(), owner.failures);
            NbdSession s = owner.sessions.get(0);
            assertEquals(NbdReplyStyle.STRUCTURED, s.style());
            assertEquals(1 << 20, s.info().size());
            assertTrue(s.info().isReadOnly());
            assertEquals(List.of(), s.contexts());
            assertEquals("newstyle-fixed", handler.protocol());
            assertEquals(s.info(), handler.exportInfo());
        } finally {
            channel.finishAndReleaseAll();
        }
    }

    @Test
    void aServerRefusingStructuredRepliesLeavesSimpleReplies() {
        start(plain().build());
        try {
            receive(NEWSTYLE_GREETING);
            written();
            receive(REPLY + " 00000008 80000001 00000000"); // NBD_REP_ERR_UNSUP, no message
            assertEquals(hex(GO), written());
            receive(GO_REPLIES);
            assertEquals(NbdReplyStyle.SIMPLE, owner.sessions.get(0).style());
            assertEquals(List.of(), owner.failures);
        } finally {
            channel.finishAndReleaseAll();
        }
    }

    @Test
    void aReplyToAnOptionNotInFlightIsAProtocolError() {
        start(plain().build());
        try {
            receive(NEWSTYLE_GREETING);
            written();
            receive(REPLY + " 00000007 00000001 00000000"); // an ACK for GO while STRUCTURED_REPLY is in flight
            // Reported once by the handler and once more through the option's failed future: the same cause (the
            // handle's fail is idempotent).
            Throwable first = assertInstanceOf(NbdProtocolException.class, owner.failures.get(0));
            assertTrue(first.getMessage().contains("while NBD_OPT_STRUCTURED_REPLY was in flight"), first.getMessage());
            owner.failures.forEach(f -> assertSame(first, f));
            assertTrue(owner.sessions.isEmpty());
        } finally {
            channel.finishAndReleaseAll();
        }
    }

    @Test
    void anOldstyleGreetingGoesStraightToTransmissionWithSimpleReplies() {
        start(plain().build());
        try {
            // NBDMAGIC, the oldstyle magic, size 4096, flags HAS_FLAGS (32 bits), 124 bytes of zeroes.
            receive("4e42444d41474943 0000420281861253 0000000000001000 00000001" + "00".repeat(124));
            assertEquals("", written(), "the client sends nothing in the oldstyle handshake");
            NbdSession s = owner.sessions.get(0);
            assertEquals(NbdReplyStyle.SIMPLE, s.style());
            assertEquals(4096, s.info().size());
            assertEquals("oldstyle", handler.protocol());
            assertNull(s.info().description());
        } finally {
            channel.finishAndReleaseAll();
        }
    }
}
