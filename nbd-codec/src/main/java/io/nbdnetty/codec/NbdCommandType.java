package io.nbdnetty.codec;

import java.util.HashMap;
import java.util.Map;

/** A transmission-phase command (proto.md, "Request types"). Open: unknown numbers are kept. */
public final class NbdCommandType extends AbstractNbdConstant<NbdCommandType> {
    private static final Map<Integer, NbdCommandType> KNOWN = new HashMap<>();

    /** NBD_CMD_READ (0). */
    public static final NbdCommandType READ = known(0, "NBD_CMD_READ");
    /** NBD_CMD_WRITE (1). */
    public static final NbdCommandType WRITE = known(1, "NBD_CMD_WRITE");
    /** NBD_CMD_DISC (2): soft disconnect; no reply. */
    public static final NbdCommandType DISC = known(2, "NBD_CMD_DISC");
    /** NBD_CMD_FLUSH (3). */
    public static final NbdCommandType FLUSH = known(3, "NBD_CMD_FLUSH");
    /** NBD_CMD_TRIM (4). */
    public static final NbdCommandType TRIM = known(4, "NBD_CMD_TRIM");
    /** NBD_CMD_CACHE (5). */
    public static final NbdCommandType CACHE = known(5, "NBD_CMD_CACHE");
    /** NBD_CMD_WRITE_ZEROES (6). */
    public static final NbdCommandType WRITE_ZEROES = known(6, "NBD_CMD_WRITE_ZEROES");
    /** NBD_CMD_BLOCK_STATUS (7). */
    public static final NbdCommandType BLOCK_STATUS = known(7, "NBD_CMD_BLOCK_STATUS");
    /** NBD_CMD_RESIZE (8), experimental. */
    public static final NbdCommandType RESIZE = known(8, "NBD_CMD_RESIZE");

    private NbdCommandType(int code, String name) {
        super(code, name);
    }

    private static NbdCommandType known(int code, String name) {
        NbdCommandType t = new NbdCommandType(code, name);
        KNOWN.put(code, t);
        return t;
    }

    /**
     * Returns the command with this 16-bit number, known or not.
     *
     * @param code the number on the wire (0 to 65535)
     * @return the command type
     */
    public static NbdCommandType valueOf(int code) {
        NbdCommandType t = KNOWN.get(code);
        return t != null ? t : new NbdCommandType(code, "NBD_CMD_UNKNOWN(" + code + ")");
    }
}
