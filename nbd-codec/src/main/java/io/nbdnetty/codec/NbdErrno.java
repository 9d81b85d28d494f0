package io.nbdnetty.codec;

import java.util.HashMap;
import java.util.Map;

/**
 * An NBD error number, as carried in replies (proto.md, "Error values"). Open: a server may send numbers the spec
 * does not list, and they are kept.
 */
public final class NbdErrno extends AbstractNbdConstant<NbdErrno> {
    private static final Map<Integer, NbdErrno> KNOWN = new HashMap<>();

    /** 0: success. */
    public static final NbdErrno OK = known(0, "OK", "success");
    /** NBD_EPERM (1). */
    public static final NbdErrno EPERM = known(1, "EPERM", "Operation not permitted");
    /** NBD_EIO (5). */
    public static final NbdErrno EIO = known(5, "EIO", "Input/output error");
    /** NBD_ENOMEM (12). */
    public static final NbdErrno ENOMEM = known(12, "ENOMEM", "Cannot allocate memory");
    /** NBD_EINVAL (22). */
    public static final NbdErrno EINVAL = known(22, "EINVAL", "Invalid argument");
    /** NBD_ENOSPC (28). */
    public static final NbdErrno ENOSPC = known(28, "ENOSPC", "No space left on device");
    /** NBD_EOVERFLOW (75). */
    public static final NbdErrno EOVERFLOW = known(75, "EOVERFLOW", "Value too large for defined data type");
    /** NBD_ENOTSUP (95). */
    public static final NbdErrno ENOTSUP = known(95, "ENOTSUP", "Operation not supported");
    /** NBD_ESHUTDOWN (108): the server is shutting down. */
    public static final NbdErrno ESHUTDOWN = known(108, "ESHUTDOWN", "Server is in the process of being shut down");

    private final String description;

    private NbdErrno(int code, String name, String description) {
        super(code, name);
        this.description = description;
    }

    private static NbdErrno known(int code, String name, String description) {
        NbdErrno e = new NbdErrno(code, name, description);
        KNOWN.put(code, e);
        return e;
    }

    /**
     * Returns the error with this number, known or not.
     *
     * @param code the number on the wire
     * @return the error
     */
    public static NbdErrno valueOf(int code) {
        NbdErrno e = KNOWN.get(code);
        return e != null ? e : new NbdErrno(code, "errno " + Integer.toUnsignedString(code), "Unknown error");
    }

    /**
     * A short human description, like {@code strerror}.
     *
     * @return the description
     */
    public String description() {
        return description;
    }
}
