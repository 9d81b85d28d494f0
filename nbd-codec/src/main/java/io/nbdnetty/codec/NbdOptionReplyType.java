package io.nbdnetty.codec;

import java.util.HashMap;
import java.util.Map;

/**
 * The type of an option reply (proto.md, "Option reply types"). Error types have bit 31 set. Open: unknown numbers
 * are kept.
 */
public final class NbdOptionReplyType extends AbstractNbdConstant<NbdOptionReplyType> {
    private static final Map<Integer, NbdOptionReplyType> KNOWN = new HashMap<>();

    /** NBD_REP_ACK (1). */
    public static final NbdOptionReplyType ACK = known(1, "NBD_REP_ACK");
    /** NBD_REP_SERVER (2): one export in a list. */
    public static final NbdOptionReplyType SERVER = known(2, "NBD_REP_SERVER");
    /** NBD_REP_INFO (3): one piece of export information. */
    public static final NbdOptionReplyType INFO = known(3, "NBD_REP_INFO");
    /** NBD_REP_META_CONTEXT (4): one metadata context. */
    public static final NbdOptionReplyType META_CONTEXT = known(4, "NBD_REP_META_CONTEXT");
    /** NBD_REP_ERR_UNSUP: the option is not known to the server. */
    public static final NbdOptionReplyType ERR_UNSUP = known(0x80000001, "NBD_REP_ERR_UNSUP");
    /** NBD_REP_ERR_POLICY: forbidden by server policy. */
    public static final NbdOptionReplyType ERR_POLICY = known(0x80000002, "NBD_REP_ERR_POLICY");
    /** NBD_REP_ERR_INVALID: syntactically or semantically invalid. */
    public static final NbdOptionReplyType ERR_INVALID = known(0x80000003, "NBD_REP_ERR_INVALID");
    /** NBD_REP_ERR_PLATFORM: not supported on this platform. */
    public static final NbdOptionReplyType ERR_PLATFORM = known(0x80000004, "NBD_REP_ERR_PLATFORM");
    /** NBD_REP_ERR_TLS_REQD: TLS is required first. */
    public static final NbdOptionReplyType ERR_TLS_REQD = known(0x80000005, "NBD_REP_ERR_TLS_REQD");
    /** NBD_REP_ERR_UNKNOWN: the export is not available. */
    public static final NbdOptionReplyType ERR_UNKNOWN = known(0x80000006, "NBD_REP_ERR_UNKNOWN");
    /** NBD_REP_ERR_SHUTDOWN: the server is shutting down. */
    public static final NbdOptionReplyType ERR_SHUTDOWN = known(0x80000007, "NBD_REP_ERR_SHUTDOWN");
    /** NBD_REP_ERR_BLOCK_SIZE_REQD: the client must ask for block size constraints. */
    public static final NbdOptionReplyType ERR_BLOCK_SIZE_REQD = known(0x80000008, "NBD_REP_ERR_BLOCK_SIZE_REQD");
    /** NBD_REP_ERR_TOO_BIG: the request or reply is too large. */
    public static final NbdOptionReplyType ERR_TOO_BIG = known(0x80000009, "NBD_REP_ERR_TOO_BIG");
    /** NBD_REP_ERR_EXT_HEADER_REQD: extended headers must be negotiated first. */
    public static final NbdOptionReplyType ERR_EXT_HEADER_REQD = known(0x8000000a, "NBD_REP_ERR_EXT_HEADER_REQD");

    private NbdOptionReplyType(int code, String name) {
        super(code, name);
    }

    private static NbdOptionReplyType known(int code, String name) {
        NbdOptionReplyType t = new NbdOptionReplyType(code, name);
        KNOWN.put(code, t);
        return t;
    }

    /**
     * Returns the reply type with this number, known or not.
     *
     * @param code the number on the wire
     * @return the reply type
     */
    public static NbdOptionReplyType valueOf(int code) {
        NbdOptionReplyType t = KNOWN.get(code);
        if (t != null) {
            return t;
        }
        String prefix = code < 0 ? "NBD_REP_ERR_UNKNOWN_TYPE(0x" : "NBD_REP_UNKNOWN_TYPE(0x";
        return new NbdOptionReplyType(code, prefix + Integer.toHexString(code) + ")");
    }

    /**
     * Whether this is an error reply (bit 31 set).
     *
     * @return true for an error
     */
    public boolean isError() {
        return code() < 0;
    }
}
