package io.nbdnetty.codec;

/**
 * A simple reply named a cookie with no request in flight. The decoder cannot tell how long the payload is, so the
 * stream cannot be read further.
 */
public final class NbdUnknownCookieException extends NbdDecoderException {
    private static final long serialVersionUID = 1L;

    /** The cookie, part of the serial form. */
    private final long cookie;

    /**
     * Creates an exception.
     *
     * @param cookie the cookie received
     * @param streamOffset where in the stream
     */
    public NbdUnknownCookieException(long cookie, long streamOffset) {
        super("reply for unknown cookie " + Long.toUnsignedString(cookie), streamOffset);
        this.cookie = cookie;
    }

    /**
     * Returns the cookie received.
     *
     * @return the cookie
     */
    public long cookie() {
        return cookie;
    }
}
