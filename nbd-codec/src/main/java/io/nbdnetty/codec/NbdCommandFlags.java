package io.nbdnetty.codec;

/** The 16-bit flags of a request (proto.md, "Command flags"). */
public final class NbdCommandFlags {
    /** NBD_CMD_FLAG_FUA (bit 0): force unit access. */
    public static final int FUA = 1;
    /** NBD_CMD_FLAG_NO_HOLE (bit 1): write zeroes without punching a hole. */
    public static final int NO_HOLE = 1 << 1;
    /** NBD_CMD_FLAG_DF (bit 2): do not fragment a structured read. */
    public static final int DF = 1 << 2;
    /** NBD_CMD_FLAG_REQ_ONE (bit 3): one extent per block status chunk. */
    public static final int REQ_ONE = 1 << 3;
    /** NBD_CMD_FLAG_FAST_ZERO (bit 4): fail write zeroes unless it is fast. */
    public static final int FAST_ZERO = 1 << 4;
    /** NBD_CMD_FLAG_PAYLOAD_LEN (bit 5, extended headers): the length field is a payload length. */
    public static final int PAYLOAD_LEN = 1 << 5;

    private static final String[] NAMES = {"FUA", "NO_HOLE", "DF", "REQ_ONE", "FAST_ZERO", "PAYLOAD_LEN"};

    private NbdCommandFlags() {
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
