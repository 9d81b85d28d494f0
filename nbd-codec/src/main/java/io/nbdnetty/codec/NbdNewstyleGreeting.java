package io.nbdnetty.codec;

/**
 * The newstyle greeting: {@code NBDMAGIC}, {@code IHAVEOPT} and 16 bits of handshake flags (18 bytes).
 *
 * @param handshakeFlags the server's {@link NbdHandshakeFlags}, 16 bits
 */
public record NbdNewstyleGreeting(int handshakeFlags) implements NbdServerGreeting {
    /**
     * Checks the flags fit 16 bits.
     *
     * @param handshakeFlags the flags
     */
    public NbdNewstyleGreeting {
        NbdCodecUtil.checkUnsigned16(handshakeFlags, "handshakeFlags");
    }

    @Override
    public String toString() {
        return "NbdNewstyleGreeting[" + NbdHandshakeFlags.toString(handshakeFlags) + "]";
    }
}
