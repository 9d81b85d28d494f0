package io.nbdnetty.codec;

/** The 16-bit transmission flags of an export (proto.md, "Transmission flags"). */
public final class NbdTransmissionFlags {
    /** NBD_FLAG_HAS_FLAGS (bit 0): always set. */
    public static final int HAS_FLAGS = 1;
    /** NBD_FLAG_READ_ONLY (bit 1). */
    public static final int READ_ONLY = 1 << 1;
    /** NBD_FLAG_SEND_FLUSH (bit 2). */
    public static final int SEND_FLUSH = 1 << 2;
    /** NBD_FLAG_SEND_FUA (bit 3). */
    public static final int SEND_FUA = 1 << 3;
    /** NBD_FLAG_ROTATIONAL (bit 4). */
    public static final int ROTATIONAL = 1 << 4;
    /** NBD_FLAG_SEND_TRIM (bit 5). */
    public static final int SEND_TRIM = 1 << 5;
    /** NBD_FLAG_SEND_WRITE_ZEROES (bit 6). */
    public static final int SEND_WRITE_ZEROES = 1 << 6;
    /** NBD_FLAG_SEND_DF (bit 7). */
    public static final int SEND_DF = 1 << 7;
    /** NBD_FLAG_CAN_MULTI_CONN (bit 8). */
    public static final int CAN_MULTI_CONN = 1 << 8;
    /** NBD_FLAG_SEND_RESIZE (bit 9). */
    public static final int SEND_RESIZE = 1 << 9;
    /** NBD_FLAG_SEND_CACHE (bit 10). */
    public static final int SEND_CACHE = 1 << 10;
    /** NBD_FLAG_SEND_FAST_ZERO (bit 11). */
    public static final int SEND_FAST_ZERO = 1 << 11;
    /** NBD_FLAG_BLOCK_STATUS_PAYLOAD (bit 12, extended headers). */
    public static final int BLOCK_STATUS_PAYLOAD = 1 << 12;

    private static final String[] NAMES = {"HAS_FLAGS", "READ_ONLY", "SEND_FLUSH", "SEND_FUA", "ROTATIONAL",
        "SEND_TRIM", "SEND_WRITE_ZEROES", "SEND_DF", "CAN_MULTI_CONN", "SEND_RESIZE", "SEND_CACHE", "SEND_FAST_ZERO",
        "BLOCK_STATUS_PAYLOAD"};

    private NbdTransmissionFlags() {
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
