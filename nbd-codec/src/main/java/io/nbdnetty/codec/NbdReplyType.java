package io.nbdnetty.codec;

import java.util.HashMap;
import java.util.Map;

/**
 * The type of a structured or extended reply chunk (proto.md, "Structured reply types"). Error types have bit 15
 * set. Open: unknown numbers are kept.
 */
public final class NbdReplyType extends AbstractNbdConstant<NbdReplyType> {
    private static final Map<Integer, NbdReplyType> KNOWN = new HashMap<>();

    /** NBD_REPLY_TYPE_NONE (0): no payload; final chunk. */
    public static final NbdReplyType NONE = known(0, "NBD_REPLY_TYPE_NONE");
    /** NBD_REPLY_TYPE_OFFSET_DATA (1): data at an offset. */
    public static final NbdReplyType OFFSET_DATA = known(1, "NBD_REPLY_TYPE_OFFSET_DATA");
    /** NBD_REPLY_TYPE_OFFSET_HOLE (2): zeroes at an offset. */
    public static final NbdReplyType OFFSET_HOLE = known(2, "NBD_REPLY_TYPE_OFFSET_HOLE");
    /** NBD_REPLY_TYPE_BLOCK_STATUS (5): 32-bit extents. */
    public static final NbdReplyType BLOCK_STATUS = known(5, "NBD_REPLY_TYPE_BLOCK_STATUS");
    /** NBD_REPLY_TYPE_BLOCK_STATUS_EXT (6): 64-bit extents (extended headers only). */
    public static final NbdReplyType BLOCK_STATUS_EXT = known(6, "NBD_REPLY_TYPE_BLOCK_STATUS_EXT");
    /** NBD_REPLY_TYPE_ERROR (2^15 + 1). */
    public static final NbdReplyType ERROR = known(0x8001, "NBD_REPLY_TYPE_ERROR");
    /** NBD_REPLY_TYPE_ERROR_OFFSET (2^15 + 2). */
    public static final NbdReplyType ERROR_OFFSET = known(0x8002, "NBD_REPLY_TYPE_ERROR_OFFSET");

    private NbdReplyType(int code, String name) {
        super(code, name);
    }

    private static NbdReplyType known(int code, String name) {
        NbdReplyType t = new NbdReplyType(code, name);
        KNOWN.put(code, t);
        return t;
    }

    /**
     * Returns the reply type with this 16-bit number, known or not.
     *
     * @param code the number on the wire (0 to 65535)
     * @return the reply type
     */
    public static NbdReplyType valueOf(int code) {
        NbdReplyType t = KNOWN.get(code);
        return t != null ? t : new NbdReplyType(code, "NBD_REPLY_TYPE_UNKNOWN(0x" + Integer.toHexString(code) + ")");
    }

    /**
     * Whether this is an error chunk type (bit 15 set).
     *
     * @return true for an error type
     */
    public boolean isError() {
        return (code() & 0x8000) != 0;
    }
}
