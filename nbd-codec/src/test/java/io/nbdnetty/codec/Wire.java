package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.util.ReferenceCountUtil;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Helpers for writing wire bytes by hand. Golden bytes are hex strings copied from the spec layout (whitespace and
 * {@code |} are ignored so fields can be separated), never produced by our own encoder.
 */
final class Wire {
    static final ByteBufAllocator POOLED = PooledByteBufAllocator.DEFAULT;

    private Wire() {
    }

    /** Parses hex, ignoring whitespace, {@code |} and {@code _}. */
    static byte[] hex(String... parts) {
        String s = String.join("", parts).replaceAll("[\\s|_]", "");
        if (s.length() % 2 != 0) {
            throw new IllegalArgumentException("odd number of hex digits: " + s);
        }
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }

    /** The hex of an ASCII string, for writing names next to their text. */
    static String ascii(String s) {
        return ByteBufUtil.hexDump(s.getBytes(StandardCharsets.US_ASCII));
    }

    /** {@code n} zero bytes as hex (the 124 reserved zero bytes of the spec). */
    static String zeroes(int n) {
        return "00".repeat(n);
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** An unpooled heap buffer over a copy of the bytes (for building expected messages). */
    static ByteBuf buf(byte[] bytes) {
        return Unpooled.wrappedBuffer(bytes.clone());
    }

    /** A pooled direct buffer holding the bytes (tracked by the leak detector). */
    static ByteBuf pooled(byte[] bytes) {
        ByteBuf b = POOLED.directBuffer(Math.max(bytes.length, 1));
        b.writeBytes(bytes);
        return b;
    }

    /** The readable bytes of a buffer, without moving its reader index. */
    static byte[] bytes(ByteBuf b) {
        return ByteBufUtil.getBytes(b);
    }

    /** Concatenates and releases a list of encoder outputs (buffers). */
    static byte[] drain(List<Object> out) {
        ByteArrayOutputStream s = new ByteArrayOutputStream();
        for (Object o : out) {
            ByteBuf b = (ByteBuf) o;
            s.writeBytes(bytes(b));
            b.release();
        }
        out.clear();
        return s.toByteArray();
    }

    /** Encodes a handshake message with the static encoder. */
    static byte[] encodeHandshake(NbdHandshakeMessage... msgs) {
        ByteBuf out = POOLED.buffer();
        try {
            for (NbdHandshakeMessage m : msgs) {
                NbdHandshakeEncoder.encode(m, out);
            }
            return bytes(out);
        } finally {
            out.release();
        }
    }

    /** Encodes requests with the static encoder; the requests are not released. */
    static byte[] encodeRequests(boolean extended, List<NbdRequest> requests) {
        List<Object> out = new ArrayList<>();
        for (NbdRequest r : requests) {
            NbdRequestEncoder.encode(POOLED, r, out, extended);
        }
        return drain(out);
    }

    /** Encodes replies with the static encoder; the replies are not released. */
    static byte[] encodeReplies(boolean extended, List<? extends NbdReply> replies) {
        List<Object> out = new ArrayList<>();
        for (NbdReply r : replies) {
            NbdReplyEncoder.encode(POOLED, r, out, extended);
        }
        return drain(out);
    }

    static void releaseAll(Iterable<?> msgs) {
        for (Object o : msgs) {
            ReferenceCountUtil.release(o);
        }
    }

    static String hexDump(byte[] b) {
        return ByteBufUtil.hexDump(b);
    }
}
