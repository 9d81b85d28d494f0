package io.nbdnetty.client.internal;

import io.nbdnetty.codec.NbdConstants;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;

/**
 * The argument checks of {@code NbdClientConfig.Builder}: each names the setting in its error. Stateless.
 */
public final class ConfigChecks {
    private ConfigChecks() {
    }

    /**
     * Checks a protocol string (an export or context name).
     *
     * @param s the string
     * @param setting the setting's name, for the error
     * @return {@code s}
     * @throws IllegalArgumentException if over {@code NbdConstants.MAX_STRING_LENGTH} bytes of UTF-8 or containing NUL
     */
    public static String name(String s, String setting) {
        Objects.requireNonNull(s, setting);
        int length = s.getBytes(StandardCharsets.UTF_8).length;
        if (length > NbdConstants.MAX_STRING_LENGTH) {
            throw new IllegalArgumentException(setting + " is " + length + " bytes of UTF-8; the limit is "
                    + NbdConstants.MAX_STRING_LENGTH);
        }
        if (s.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(setting + " must not contain NUL");
        }
        return s;
    }

    /**
     * Checks a timeout.
     *
     * @param timeout the timeout
     * @param setting the setting's name, for the error
     * @return {@code timeout}
     * @throws IllegalArgumentException if negative
     */
    public static Duration timeout(Duration timeout, String setting) {
        Objects.requireNonNull(timeout, setting);
        if (timeout.isNegative()) {
            throw new IllegalArgumentException(setting + " must not be negative: " + timeout);
        }
        return timeout;
    }

    /**
     * Checks a lower bound.
     *
     * @param value the value
     * @param min the least allowed
     * @param setting the setting's name, for the error
     * @return {@code value}
     * @throws IllegalArgumentException if below {@code min}
     */
    public static long atLeast(long value, long min, String setting) {
        if (value < min) {
            throw new IllegalArgumentException(setting + " must be at least " + min + ": " + value);
        }
        return value;
    }

    /**
     * Checks a bitmask.
     *
     * @param flags the bits
     * @param allowed the bits that may be set
     * @param setting the setting's name, for the error
     * @return {@code flags}
     * @throws IllegalArgumentException if another bit is set
     */
    public static int flags(int flags, int allowed, String setting) {
        if ((flags & ~allowed) != 0) {
            throw new IllegalArgumentException(setting + " has unknown bits: 0x" + Integer.toHexString(flags));
        }
        return flags;
    }
}
