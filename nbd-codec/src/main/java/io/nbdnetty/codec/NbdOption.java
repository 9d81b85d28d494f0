package io.nbdnetty.codec;

import java.util.HashMap;
import java.util.Map;

/** An option of the newstyle handshake (proto.md, "Option types"). Open: unknown numbers are kept. */
public final class NbdOption extends AbstractNbdConstant<NbdOption> {
    private static final Map<Integer, NbdOption> KNOWN = new HashMap<>();

    /** NBD_OPT_EXPORT_NAME (1): choose an export and end the handshake, the old way. */
    public static final NbdOption EXPORT_NAME = known(1, "NBD_OPT_EXPORT_NAME");
    /** NBD_OPT_ABORT (2): end the session. */
    public static final NbdOption ABORT = known(2, "NBD_OPT_ABORT");
    /** NBD_OPT_LIST (3): list exports. */
    public static final NbdOption LIST = known(3, "NBD_OPT_LIST");
    /** NBD_OPT_PEEK_EXPORT (4): withdrawn. */
    public static final NbdOption PEEK_EXPORT = known(4, "NBD_OPT_PEEK_EXPORT");
    /** NBD_OPT_STARTTLS (5): upgrade to TLS. */
    public static final NbdOption STARTTLS = known(5, "NBD_OPT_STARTTLS");
    /** NBD_OPT_INFO (6): ask about an export without choosing it. */
    public static final NbdOption INFO = known(6, "NBD_OPT_INFO");
    /** NBD_OPT_GO (7): choose an export and end the handshake. */
    public static final NbdOption GO = known(7, "NBD_OPT_GO");
    /** NBD_OPT_STRUCTURED_REPLY (8): ask for structured replies. */
    public static final NbdOption STRUCTURED_REPLY = known(8, "NBD_OPT_STRUCTURED_REPLY");
    /** NBD_OPT_LIST_META_CONTEXT (9): list metadata contexts. */
    public static final NbdOption LIST_META_CONTEXT = known(9, "NBD_OPT_LIST_META_CONTEXT");
    /** NBD_OPT_SET_META_CONTEXT (10): select metadata contexts. */
    public static final NbdOption SET_META_CONTEXT = known(10, "NBD_OPT_SET_META_CONTEXT");
    /** NBD_OPT_EXTENDED_HEADERS (11): ask for 64-bit extended headers. */
    public static final NbdOption EXTENDED_HEADERS = known(11, "NBD_OPT_EXTENDED_HEADERS");

    private NbdOption(int code, String name) {
        super(code, name);
    }

    private static NbdOption known(int code, String name) {
        NbdOption o = new NbdOption(code, name);
        KNOWN.put(code, o);
        return o;
    }

    /**
     * Returns the option with this number, known or not.
     *
     * @param code the number on the wire
     * @return the option
     */
    public static NbdOption valueOf(int code) {
        NbdOption o = KNOWN.get(code);
        return o != null ? o : new NbdOption(code, "NBD_OPT_UNKNOWN(" + Integer.toUnsignedString(code) + ")");
    }

    /**
     * Whether this option is one the spec defines.
     *
     * @return true for a known option
     */
    public boolean isKnown() {
        return KNOWN.get(code()) == this;
    }
}
