package io.nbdnetty.client;

/**
 * A request was refused on the client side by a strict-mode check ({@link NbdStrict}) before anything was sent: an
 * unadvertised command or flag, a range outside the export, a zero length, a misaligned or oversized request. The
 * connection is unaffected.
 */
public class NbdStrictModeException extends NbdException {
    private static final long serialVersionUID = 1L;

    /** The check, part of the serial form. */
    private final int check;

    /**
     * Creates an exception.
     *
     * @param check the {@link NbdStrict} flag whose check failed
     * @param message what was wrong
     */
    public NbdStrictModeException(int check, String message) {
        super(message);
        this.check = check;
    }

    /**
     * Returns the strict-mode flag whose check refused the request.
     *
     * @return one of the {@link NbdStrict} constants
     */
    public int check() {
        return check;
    }
}
