package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;

/** Small checks and string helpers shared by the message types, encoders and decoders. */
final class NbdCodecUtil {
    private NbdCodecUtil() {
    }

    static void checkUnsigned16(int value, String name) {
        if ((value & ~0xffff) != 0) {
            throw new IllegalArgumentException(name + " must fit 16 bits: 0x" + Integer.toHexString(value));
        }
    }

    static void checkUnsigned32(long value, String name) {
        if ((value & ~0xffffffffL) != 0) {
            throw new IllegalArgumentException(name + " must fit 32 bits: " + Long.toUnsignedString(value));
        }
    }

    /** Encodes a protocol string, refusing one the spec forbids (over 4096 bytes). */
    static byte[] utf8(String s, String what) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > NbdConstants.MAX_STRING_LENGTH) {
            throw new IllegalArgumentException(what + " is " + bytes.length + " bytes of UTF-8; the protocol allows "
                    + NbdConstants.MAX_STRING_LENGTH);
        }
        return bytes;
    }

    /** Reads {@code length} bytes as UTF-8 (malformed sequences become U+FFFD: the text is for display). */
    static String readString(ByteBuf in, int length) {
        String s = in.toString(in.readerIndex(), length, StandardCharsets.UTF_8);
        in.skipBytes(length);
        return s;
    }

    static byte[] readBytes(ByteBuf in, int length) {
        byte[] b = new byte[length];
        in.readBytes(b);
        return b;
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
