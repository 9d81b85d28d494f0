package io.nbdnetty.examples.cli;

import java.util.Locale;

/** Prints sizes in powers of 1024, e.g. {@code 64 MiB} (parsing is {@link ServeCommand#parseSizeValue}). */
public final class Sizes {
    private Sizes() {
    }

    public static String human(long bytes) {
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
