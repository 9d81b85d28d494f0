package io.nbdnetty.codec;

/** The 16-bit flags of a structured or extended reply chunk. */
public final class NbdReplyFlags {
    /** NBD_REPLY_FLAG_DONE (bit 0): the last chunk of a reply. */
    public static final int DONE = 1;

    private static final String[] NAMES = {"DONE"};

    private NbdReplyFlags() {
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
