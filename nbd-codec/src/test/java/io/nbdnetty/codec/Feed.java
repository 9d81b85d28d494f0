package io.nbdnetty.codec;

import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Feeds a byte stream to a decoder in an {@link EmbeddedChannel}, whole, one byte at a time or cut at given points,
 * each piece in its own pooled direct buffer, and collects what comes out.
 */
final class Feed {
    private Feed() {
    }

    /** Seeds used for random splits; fixed so a failure can be reproduced. */
    static final long[] SEEDS = {1L, 42L, 0xdecafbadL, 20260101L, -7L};

    /** No cut: the whole stream in one buffer. */
    static int[] whole() {
        return new int[0];
    }

    /** A cut after every byte. */
    static int[] byteByByte(int length) {
        int[] cuts = new int[Math.max(length - 1, 0)];
        for (int i = 0; i < cuts.length; i++) {
            cuts[i] = i + 1;
        }
        return cuts;
    }

    /** Random cut points (sorted, distinct, inside the stream), from a seed. */
    static int[] randomCuts(int length, long seed) {
        Random r = new Random(seed);
        if (length < 2) {
            return new int[0];
        }
        int n = r.nextInt(Math.min(length - 1, 64) + 1);
        return r.ints(n, 1, length).distinct().sorted().toArray();
    }

    /** Every split the split tests use: whole, byte by byte, and one random split per seed. */
    static List<int[]> allSplits(int length) {
        List<int[]> splits = new ArrayList<>();
        splits.add(whole());
        splits.add(byteByByte(length));
        for (long seed : SEEDS) {
            splits.add(randomCuts(length, seed));
        }
        return splits;
    }

    /**
     * Writes the stream into the channel in pieces cut at {@code cuts} and returns every inbound message, in order.
     * The caller owns (and must release) the messages.
     */
    static List<Object> feed(EmbeddedChannel ch, byte[] stream, int[] cuts) {
        List<Object> out = new ArrayList<>();
        int from = 0;
        for (int i = 0; i <= cuts.length; i++) {
            int to = i < cuts.length ? cuts[i] : stream.length;
            if (to > from) {
                ch.writeInbound(Wire.pooled(Arrays.copyOfRange(stream, from, to)));
                drainInbound(ch, out);
            }
            from = to;
        }
        return out;
    }

    /** Decodes a stream with a fresh decoder, closes the channel, and returns the messages. */
    static List<Object> decode(Supplier<? extends ChannelHandler> decoder, byte[] stream, int[] cuts) {
        EmbeddedChannel ch = new EmbeddedChannel(decoder.get());
        try {
            List<Object> out = feed(ch, stream, cuts);
            ch.finish();
            drainInbound(ch, out);
            return out;
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    static void drainInbound(EmbeddedChannel ch, List<Object> out) {
        for (Object m; (m = ch.readInbound()) != null; ) {
            out.add(m);
        }
    }
}
