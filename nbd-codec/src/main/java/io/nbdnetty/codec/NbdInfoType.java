package io.nbdnetty.codec;

import java.util.HashMap;
import java.util.Map;

/** A kind of export information in NBD_OPT_INFO/GO (proto.md, "NBD_REP_INFO"). Open: unknown numbers are kept. */
public final class NbdInfoType extends AbstractNbdConstant<NbdInfoType> {
    private static final Map<Integer, NbdInfoType> KNOWN = new HashMap<>();

    /** NBD_INFO_EXPORT (0): size and transmission flags. */
    public static final NbdInfoType EXPORT = known(0, "NBD_INFO_EXPORT");
    /** NBD_INFO_NAME (1): canonical name. */
    public static final NbdInfoType NAME = known(1, "NBD_INFO_NAME");
    /** NBD_INFO_DESCRIPTION (2): description for humans. */
    public static final NbdInfoType DESCRIPTION = known(2, "NBD_INFO_DESCRIPTION");
    /** NBD_INFO_BLOCK_SIZE (3): block size constraints. */
    public static final NbdInfoType BLOCK_SIZE = known(3, "NBD_INFO_BLOCK_SIZE");

    private NbdInfoType(int code, String name) {
        super(code, name);
    }

    private static NbdInfoType known(int code, String name) {
        NbdInfoType t = new NbdInfoType(code, name);
        KNOWN.put(code, t);
        return t;
    }

    /**
     * Returns the info type with this 16-bit number, known or not.
     *
     * @param code the number on the wire (0 to 65535)
     * @return the info type
     */
    public static NbdInfoType valueOf(int code) {
        NbdInfoType t = KNOWN.get(code);
        return t != null ? t : new NbdInfoType(code, "NBD_INFO_UNKNOWN(" + code + ")");
    }
}
