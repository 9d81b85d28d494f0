package io.nbdnetty.examples.cli;

import java.util.Locale;

/** Parses and prints sizes like {@code 64M} and {@code 1G} (powers of 1024, as nbdkit and qemu-img take them). */
final class Sizes {
    private Sizes() {
    }

    static long parse(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("B") && t.length() > 1 && !Character.isDigit(t.charAt(t.length() - 2))) {
            t = t.substring(0, t.length() - 1);
        }
        if (t.endsWith("IB")) {
            t = t.substring(0, t.length() - 2);
        }
        long unit = 1;
        char last = t.isEmpty() ? ' ' : t.charAt(t.length() - 1);
        int shift = "KMGTPE".indexOf(last);
        if (shift >= 0) {
            unit = 1L << (10 * (shift + 1));
            t = t.substring(0, t.length() - 1);
        }
        try {
            long n = Long.parseLong(t);
            if (n < 0 || (unit > 1 && n > Long.MAX_VALUE / unit)) {
                throw new IllegalArgumentException("size out of range: " + s);
            }
            return n * unit;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a size: '" + s + "' (use e.g. 4096, 64K, 64M or 1G)");
        }
    }

    static String human(long bytes) {
        String[] units = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        int i = 0;
        double v = bytes;
        while (v >= 1024 && i < units.length - 1 && v % 1024 == 0) {
            v /= 1024;
            i++;
        }
        return (v == Math.rint(v) ? String.valueOf((long) v) : String.format(Locale.ROOT, "%.1f", v)) + " " + units[i];
    }
}
