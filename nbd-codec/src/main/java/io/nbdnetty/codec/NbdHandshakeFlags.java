package io.nbdnetty.codec;

/** The server's 16-bit handshake flags in the newstyle greeting (proto.md, "Handshake flags"). */
public final class NbdHandshakeFlags {
    /** NBD_FLAG_FIXED_NEWSTYLE (bit 0). */
    public static final int FIXED_NEWSTYLE = 1;
    /** NBD_FLAG_NO_ZEROES (bit 1). */
    public static final int NO_ZEROES = 1 << 1;
    /** Every flag this library knows. */
    public static final int ALL = FIXED_NEWSTYLE | NO_ZEROES;

    private static final String[] NAMES = {"FIXED_NEWSTYLE", "NO_ZEROES"};

    private NbdHandshakeFlags() {
    }

    /**
     * Renders the flags readably, e.g. {@code FIXED_NEWSTYLE|NO_ZEROES}.
     *
     * @param flags the flag word
     * @return the names of the set bits, unknown bits in hex
     */
    public static String toString(int flags) {
        return NbdFlags.toString(flags, NAMES);
    }
}
