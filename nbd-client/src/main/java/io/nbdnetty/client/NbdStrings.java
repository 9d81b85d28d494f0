package io.nbdnetty.client;

import java.nio.charset.StandardCharsets;

/**
 * Strings from a server as they are shown to people: the protocol caps names, descriptions and messages at 4,096
 * bytes (proto.md, "Option types" and "Structured reply chunk message types"), so a longer one is cut to that, at a
 * character boundary, and marked with "...". Exception messages of this library pass server strings through {@link
 * #shown(String)}; the accessors that return the server's string (e.g. {@link NbdCommandException#serverMessage()})
 * return it whole. Thread-safe (no state).
 */
public final class NbdStrings {
    /** The most bytes of UTF-8 a server string is shown with: the protocol's limit for strings. */
    public static final int MAX_SHOWN_BYTES = 4096;

    private static final String MARK = "...";

    private NbdStrings() {
    }

    /**
     * Returns {@code s} if its UTF-8 form is at most {@link #MAX_SHOWN_BYTES} bytes, else its longest prefix (whole
     * characters) that fits in {@code MAX_SHOWN_BYTES - 3} bytes followed by "...", so the result is never longer
     * than {@code MAX_SHOWN_BYTES} bytes.
     *
     * @param s a string, or null
     * @return the string as shown (null for null)
     */
    public static String shown(String s) {
        if (s == null || s.length() <= MAX_SHOWN_BYTES / 3) {
            return s;
        }
        int bytes = 0;
        int cutAt = -1;
        int budget = MAX_SHOWN_BYTES - MARK.length();
        for (int i = 0; i < s.length();) {
            int cp = s.codePointAt(i);
            int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (bytes + n > budget && cutAt < 0) {
                cutAt = i;
            }
            bytes += n;
            if (bytes > MAX_SHOWN_BYTES) {
                return s.substring(0, cutAt) + MARK;
            }
            i += Character.charCount(cp);
        }
        return s;
    }

    /**
     * The number of UTF-8 bytes of {@code s}, for tests and callers that check a length.
     *
     * @param s a string
     * @return its UTF-8 length
     */
    static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }
}
