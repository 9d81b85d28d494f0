package io.nbdnetty.client;

import io.nbdnetty.client.ScriptedServer.Req;
import io.nbdnetty.codec.NbdBlockStatusChunk;
import io.nbdnetty.codec.NbdNoneChunk;
import io.nbdnetty.codec.NbdOffsetDataChunk;
import io.nbdnetty.codec.NbdOffsetHoleChunk;
import io.nbdnetty.codec.NbdReply;
import io.nbdnetty.codec.NbdReplyEncoder;
import io.nbdnetty.codec.NbdReplyFlags;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client-level fuzz (property) test: a scripted server completes a valid handshake, then answers three requests
 * (a READ, a BLOCK_STATUS and a FLUSH) with a random mutation of a valid reply stream, sent in random pieces, and
 * then closes or goes silent. Whatever it sends, every future must complete (with a value or an {@link NbdException})
 * in time, the handle must end READY (or PROCESSING with timed-out requests) or DEAD, close must finish, and nothing
 * may leak (the leak check extension). Seeds are fixed; {@code -Dnbd.fuzz.iterations=N} runs more of them.
 */
class ClientReplyFuzzTest {
    private static final int DONE = NbdReplyFlags.DONE;
    private static final int ITERATIONS = Integer.getInteger("nbd.fuzz.iterations", 60);

    /** The valid replies to READ 0+4096, BLOCK_STATUS 0+65536 and FLUSH, as bytes. */
    private static byte[] validStream(Req read, Req status, Req flush) {
        byte[] data = new byte[2048];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) i;
        }
        List<NbdReply> replies = List.of(
                new NbdOffsetDataChunk(0, read.cookie(), 0, 0, Unpooled.wrappedBuffer(data)),
                new NbdBlockStatusChunk(DONE, status.cookie(), 0, false, 0, new long[] {4096, 0, 61440, 3}),
                new NbdOffsetHoleChunk(0, read.cookie(), 0, 2048, 2048),
                new NbdNoneChunk(DONE, read.cookie(), 0),
                new NbdNoneChunk(DONE, flush.cookie(), 0));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (NbdReply r : replies) {
            List<Object> bufs = new ArrayList<>();
            try {
                NbdReplyEncoder.encode(UnpooledByteBufAllocator.DEFAULT, r, bufs, false);
                for (Object o : bufs) {
                    ByteBuf b = (ByteBuf) o;
                    byte[] bytes = new byte[b.readableBytes()];
                    b.getBytes(b.readerIndex(), bytes);
                    out.writeBytes(bytes);
                }
            } finally {
                bufs.forEach(ReferenceCountUtil::release);
                ReferenceCountUtil.release(r);
            }
        }
        return out.toByteArray();
    }

    static byte[] mutate(byte[] in, Random rnd) {
        List<Byte> b = new ArrayList<>(in.length);
        for (byte x : in) {
            b.add(x);
        }
        int n = rnd.nextInt(4);
        for (int k = 0; k < n && !b.isEmpty(); k++) {
            int at = rnd.nextInt(b.size());
            switch (rnd.nextInt(7)) {
                case 0 -> b.set(at, (byte) (b.get(at) ^ (1 << rnd.nextInt(8))));
                case 1 -> b.set(at, (byte) rnd.nextInt(256));
                case 2 -> b.set(at, rnd.nextBoolean() ? (byte) 0xff : 0);
                case 3 -> {
                    for (int i = rnd.nextInt(16); i > 0; i--) {
                        b.add(at, (byte) rnd.nextInt(256));
                    }
                }
                case 4 -> b.subList(at, Math.min(b.size(), at + 1 + rnd.nextInt(32))).clear();
                case 5 -> {
                    List<Byte> part = new ArrayList<>(b.subList(at, Math.min(b.size(), at + 1 + rnd.nextInt(64))));
                    b.addAll(rnd.nextInt(b.size()), part);
                }
                default -> b.subList(at, b.size()).clear();
            }
        }
        byte[] out = new byte[b.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.get(i);
        }
        return out;
    }

    @Test
    void randomMutationsOfValidReplyStreams() throws Exception {
        for (int seed = 0; seed < ITERATIONS; seed++) {
            runOne(seed);
        }
    }

    private static void runOne(long seed) throws Exception {
        Random rnd = new Random(seed);
        boolean closeAfter = rnd.nextInt(4) != 0;
        try (ScriptedServer s = ScriptedServer.start(p -> {
            p.handshake(true, Map.of("base:allocation", 0), 1 << 20, ScriptedServer.DEFAULT_TX_FLAGS);
            Req read = p.readRequest();
            Req status = p.readRequest();
            Req flush = p.readRequest();
            byte[] stream = mutate(validStream(read, status, flush), rnd);
            try {
                for (int at = 0; at < stream.length; ) {
                    int n = Math.min(stream.length - at, 1 + rnd.nextInt(200));
                    p.sendRaw(java.util.Arrays.copyOfRange(stream, at, at + n));
                    at += n;
                }
                if (closeAfter) {
                    p.close();
                    return;
                }
            } catch (IOException e) {
                // the client hung up on garbage
            }
            p.awaitClientClose();
        }); NbdHandle h = NbdHandle.create(NbdClientConfig.builder().addMetaContext("base:allocation")
                .requestTimeout(Duration.ofMillis(500)).build())) {
            NbdConnection c = h.connect(s.connect()).get(10, TimeUnit.SECONDS);
            List<CompletableFuture<?>> futures = List.of(c.read(0, 4096), c.blockStatus(0, 65536, 0), c.flush());
            for (CompletableFuture<?> f : futures) {
                try {
                    ReferenceCountUtil.release(f.get(5, TimeUnit.SECONDS));
                } catch (ExecutionException e) {
                    assertInstanceOf(NbdException.class, e.getCause(), "seed " + seed + ": " + e.getCause());
                }
            }
            NbdState state = h.state();
            assertTrue(Set.of(NbdState.READY, NbdState.PROCESSING, NbdState.DEAD).contains(state),
                    "seed " + seed + ": state " + state);
            h.close();
            h.closeFuture().get(5, TimeUnit.SECONDS);
            assertTrue(h.state() == NbdState.CLOSED || h.state() == NbdState.DEAD, "seed " + seed + ": " + h.state());
        }
    }
}
