package io.nbdnetty.codec;

/** The client's 32-bit flags sent after the newstyle greeting (proto.md, "Client flags"). */
public final class NbdClientFlags {
    /** NBD_FLAG_C_FIXED_NEWSTYLE (bit 0). */
    public static final int FIXED_NEWSTYLE = 1;
    /** NBD_FLAG_C_NO_ZEROES (bit 1). */
    public static final int NO_ZEROES = 1 << 1;
    /** Every flag this library knows. */
    public static final int ALL = FIXED_NEWSTYLE | NO_ZEROES;

    private static final String[] NAMES = {"C_FIXED_NEWSTYLE", "C_NO_ZEROES"};

    private NbdClientFlags() {
    }

    /**
     * Renders the flags readably.
     *
     * @param flags the flag word
     * @return the names of the set bits, unknown bits in hex
     */
    public static String toString(int flags) {
        return NbdFlags.toString(flags, NAMES);
    }
}
