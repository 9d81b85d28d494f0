package io.nbdnetty.codec;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.EmptyByteBuf;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.util.ReferenceCounted;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Coverage-guided fuzzing of every decoder (Jazzer; see docs/FUZZING.md). In the normal test run each target runs
 * in regression mode over its seed corpus ({@code src/test/resources/io/nbdnetty/codec/DecoderFuzzTestInputs/}),
 * with {@code JAZZER_FUZZ=1} it fuzzes.
 *
 * <p>Input layout, the same for every target: byte 0 holds option bits ({@link #EXTENDED}, {@link #ZERO_PADDED},
 * {@link #SWITCH}), bytes 1-4 seed the random split of the stream, bytes 5-20 are four 32-bit lengths the reply
 * decoder's resolver answers with (a negative one means "unknown cookie"), and the rest is the byte stream.
 *
 * <p>The stream goes through an {@link EmbeddedChannel} in random pieces. The only failure a decoder may report is
 * an {@link NbdDecoderException}; anything else (a NullPointerException, an IndexOutOfBoundsException, an
 * IllegalArgumentException from a message constructor, an OutOfMemoryError) is a finding. After a failure the decoder
 * must swallow the rest silently. Every decoded message is released and must then hold no buffer, and every buffer the
 * channel's allocator handed out (the inputs and the decoder's cumulation) must be released at the end.
 */
class DecoderFuzzTest {
    static final int HEAD = 21;
    static final int EXTENDED = 1;
    static final int ZERO_PADDED = 2;
    static final int SWITCH = 4;

    /** Small limits, so that the limit checks are reachable with short inputs and nothing big is allocated. */
    static final int MAX_OPTION = 8192;
    static final int MAX_PAYLOAD = 1 << 20;

    @FuzzTest(maxDuration = "3m")
    void clientHandshakeDecoder(byte[] input) {
        Input in = Input.parse(input);
        NbdClientHandshakeDecoder decoder = new NbdClientHandshakeDecoder(MAX_OPTION);
        boolean[] greeted = new boolean[1];
        boolean[] switched = new boolean[1];
        boolean[] awaitingTls = new boolean[1];
        run(in, decoder, (msg, failed) -> {
            if (msg instanceof NbdNewstyleGreeting) {
                greeted[0] = true;
            }
            if (msg instanceof NbdAckReply a && a.option().equals(NbdOption.STARTTLS)) {
                awaitingTls[0] = true;
            }
        }, (rnd, failed) -> {
            if (awaitingTls[0] && rnd.nextBoolean()) {
                awaitingTls[0] = false;
                decoder.tlsEstablished();
            }
            if ((in.flags & SWITCH) != 0 && greeted[0] && !switched[0] && !awaitingTls[0] && !failed
                    && rnd.nextInt(3) == 0) {
                switched[0] = true;
                decoder.expectExportNameReply((in.flags & ZERO_PADDED) != 0);
            }
        });
    }

    @FuzzTest(maxDuration = "3m")
    void replyDecoder(byte[] input) {
        Input in = Input.parse(input);
        NbdReplyDecoder decoder = new NbdReplyDecoder((in.flags & EXTENDED) != 0, cookie -> {
            int l = in.lengths[(int) (cookie & 3)];
            return l < 0 ? -1 : l & 0x1fffff;
        }, MAX_PAYLOAD);
        run(in, decoder, (msg, failed) -> { }, (rnd, failed) -> { });
    }

    @FuzzTest(maxDuration = "3m")
    void serverHandshakeDecoder(byte[] input) {
        Input in = Input.parse(input);
        NbdServerHandshakeDecoder decoder = new NbdServerHandshakeDecoder(MAX_OPTION);
        run(in, decoder, (msg, failed) -> { }, (rnd, failed) -> {
            if ((in.flags & SWITCH) != 0 && rnd.nextInt(8) == 0) {
                decoder.finish();
            }
        });
    }

    @FuzzTest(maxDuration = "3m")
    void requestDecoder(byte[] input) {
        Input in = Input.parse(input);
        run(in, new NbdRequestDecoder((in.flags & EXTENDED) != 0, MAX_PAYLOAD), (msg, failed) -> { },
                (rnd, failed) -> { });
    }

    // ------------------------------------------------------------------------------------------------ harness

    /** The parsed fuzz input. */
    record Input(int flags, long seed, int[] lengths, byte[] stream) {
        static Input parse(byte[] b) {
            byte[] h = new byte[HEAD];
            System.arraycopy(b, 0, h, 0, Math.min(HEAD, b.length));
            int[] lengths = new int[4];
            for (int i = 0; i < 4; i++) {
                lengths[i] = int32(h, 5 + 4 * i);
            }
            byte[] stream = b.length > HEAD ? java.util.Arrays.copyOfRange(b, HEAD, b.length) : new byte[0];
            return new Input(h[0] & 0xff, int32(h, 1), lengths, stream);
        }

        private static int int32(byte[] b, int at) {
            return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
        }
    }

    interface OnMessage {
        void accept(Object msg, boolean failed);
    }

    interface BetweenPieces {
        void accept(Random rnd, boolean failed);
    }

    /** Feeds the stream in random pieces, checks what comes out, releases everything, checks nothing is held. */
    static void run(Input in, ChannelHandler decoder, OnMessage onMessage, BetweenPieces between) {
        TrackingAllocator alloc = new TrackingAllocator();
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.config().setAllocator(alloc);
        ch.pipeline().addLast(decoder);
        Random rnd = new Random(in.seed);
        int mode = rnd.nextInt(4);
        List<Object> decoded = new ArrayList<>();
        boolean failed = false;
        try {
            byte[] s = in.stream;
            int at = 0;
            while (at < s.length) {
                int n = switch (mode) {
                    case 0 -> s.length - at;
                    case 1 -> 1;
                    default -> Math.min(s.length - at, 1 + rnd.nextInt(64));
                };
                ByteBuf piece = alloc.buffer(n).writeBytes(s, at, n);
                at += n;
                // Messages decoded in the same read as a failure come out with it; after that, nothing may.
                boolean failedBefore = failed;
                failed |= write(ch, piece, failed);
                drain(ch, decoded, onMessage, failedBefore);
                between.accept(rnd, failed);
            }
            boolean wasFailed = failed;
            failed |= finish(ch, failed);
            drain(ch, decoded, onMessage, wasFailed);
        } finally {
            try {
                ch.finishAndReleaseAll();
            } catch (RuntimeException e) {
                // Already reported through write() or finish(), or a finding in flight.
            }
            releaseAll(decoded);
        }
        alloc.assertAllReleased();
    }

    /** Writes one piece; returns true if the decoder failed (as it may, with an NbdDecoderException). */
    private static boolean write(EmbeddedChannel ch, ByteBuf piece, boolean failedBefore) {
        try {
            ch.writeInbound(piece);
            return false;
        } catch (DecoderException e) {
            return expected(e, failedBefore);
        }
    }

    private static boolean finish(EmbeddedChannel ch, boolean failedBefore) {
        try {
            ch.finish();
            return false;
        } catch (DecoderException e) {
            return expected(e, failedBefore);
        }
    }

    private static boolean expected(DecoderException e, boolean failedBefore) {
        if (!(e instanceof NbdDecoderException) && !(e.getCause() instanceof NbdDecoderException)) {
            throw e;
        }
        if (failedBefore) {
            throw new AssertionError("the decoder failed again after its first failure", e);
        }
        return true;
    }

    private static void drain(EmbeddedChannel ch, List<Object> decoded, OnMessage onMessage, boolean failed) {
        for (Object msg; (msg = ch.readInbound()) != null; ) {
            decoded.add(msg);
            if (failed) {
                throw new AssertionError("the decoder produced " + msg + " after it failed");
            }
            // Exercise what a user of the message would call.
            msg.toString();
            msg.hashCode();
            if (msg instanceof NbdReplyChunk c) {
                c.payloadLength();
            }
            onMessage.accept(msg, failed);
        }
    }

    /** Releases every message once, then checks that none still holds a live buffer. */
    private static void releaseAll(List<Object> decoded) {
        List<Object> holders = new ArrayList<>();
        for (Object msg : decoded) {
            if (msg instanceof io.netty.buffer.ByteBufHolder h) {
                holders.add(msg);
                holders.add(h.content());
            }
            if (msg instanceof ReferenceCounted r) {
                r.release();
            }
        }
        for (int i = 0; i < holders.size(); i += 2) {
            ByteBuf content = (ByteBuf) holders.get(i + 1);
            if (!(content instanceof EmptyByteBuf) && content.refCnt() != 0) {
                throw new AssertionError(holders.get(i) + " still holds a live buffer once every message was released");
            }
        }
    }

    /** Hands out unpooled buffers and remembers them, so that the test can check every one was released. */
    static final class TrackingAllocator extends AbstractByteBufAllocator {
        private final List<ByteBuf> all = new ArrayList<>();

        TrackingAllocator() {
            super(false);
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            ByteBuf b = new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
            all.add(b);
            return b;
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            ByteBuf b = new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity);
            all.add(b);
            return b;
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }

        void assertAllReleased() {
            for (ByteBuf b : all) {
                if (b.refCnt() != 0) {
                    throw new AssertionError("a buffer of " + b.capacity() + " bytes was not released (refCnt "
                            + b.refCnt() + ")");
                }
            }
        }
    }
}
