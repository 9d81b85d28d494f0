package io.nbdnetty.examples.cli.info;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Locale;

/**
 * nbdinfo's number and string formatting, emulated byte for byte: C's {@code printf} conversions it uses, libnbd's
 * human sizes and nbdinfo's JSON strings.
 */
final class NbdinfoFormat {
    private NbdinfoFormat() {
    }

    /** C's {@code %Nd}: {@code v} right-aligned in {@code width} columns. */
    static StringBuilder pad(StringBuilder sb, long v, int width) {
        int digits = 1;
        if (v < 0) {
            digits = Long.toString(v).length();
        } else {
            for (long x = v; x >= 10; x /= 10) {
                digits++;
            }
        }
        for (int i = digits; i < width; i++) {
            sb.append(' ');
        }
        return sb.append(v);
    }

    /** C's {@code %.1f}: the exact binary value rounded half to even (Java's Formatter rounds half up). */
    static String cFixed1(double v) {
        return new BigDecimal(v).setScale(1, RoundingMode.HALF_EVEN).toPlainString();
    }

    /** C's {@code %g} for values in [0, 1e6): six significant digits, trailing zeros removed. */
    static String cG(double v) {
        if (v == 0) {
            return "0";
        }
        BigDecimal d = new BigDecimal(v).round(new MathContext(6, RoundingMode.HALF_EVEN)).stripTrailingZeros();
        if (d.abs().compareTo(new BigDecimal("1e-4")) < 0 || d.abs().compareTo(new BigDecimal("1e6")) >= 0) {
            String s = String.format(Locale.ROOT, "%.5e", v);
            return s;
        }
        return d.toPlainString();
    }

    /** nbdinfo's print_json_string: backslash and quote escaped, control characters as \\u00XX, the rest raw. */
    static String jsonString(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' || c == '"') {
                sb.append('\\').append(c);
            } else if (c < ' ') {
                sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.append('"').toString();
    }

    /** libnbd's human_size: the largest power of 1024 that divides the size exactly. */
    static String humanSize(long bytes) {
        String[] ext = {"E", "P", "T", "G", "M", "K", ""};
        int i = 6;
        long b = bytes;
        if (b != 0) {
            while ((b & 1023) == 0) {
                b >>>= 10;
                i--;
            }
        }
        return Long.toUnsignedString(b) + ext[i];
    }
}
