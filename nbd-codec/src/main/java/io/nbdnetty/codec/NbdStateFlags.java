package io.nbdnetty.codec;

/** Status flags of the {@code base:allocation} metadata context (proto.md, "base:allocation"). */
public final class NbdStateFlags {
    /** NBD_STATE_HOLE (bit 0): not allocated. */
    public static final int HOLE = 1;
    /** NBD_STATE_ZERO (bit 1): reads as zeroes. */
    public static final int ZERO = 1 << 1;

    private static final String[] NAMES = {"HOLE", "ZERO"};

    private NbdStateFlags() {
    }

    /**
     * Renders the flags readably.
     *
     * @param flags the status word
     * @return the names of the set bits, unknown bits in hex
     */
    public static String toString(int flags) {
        return NbdFlags.toString(flags, NAMES);
    }
}
