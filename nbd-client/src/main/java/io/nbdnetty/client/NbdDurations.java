package io.nbdnetty.client;

import java.time.Duration;

/**
 * Writes durations the way people read them in error messages and logs: {@code "30 s"}, {@code "250 ms"},
 * {@code "1.5 s"}, {@code "2 min"}, {@code "1 min 30 s"}, {@code "2 h 5 min"}; never ISO-8601 ({@code PT30S}).
 *
 * <p>Every message of this library that names a duration uses it, and so may applications that want to match.
 * Thread-safe (stateless).
 */
public final class NbdDurations {
    private NbdDurations() {
    }

    /**
     * Formats a duration for a message.
     *
     * @param d a duration, not negative
     * @return the duration in words, for example {@code "30 s"}
     * @throws IllegalArgumentException if {@code d} is negative
     */
    public static String inWords(Duration d) {
        if (d.isNegative()) {
            throw new IllegalArgumentException("negative duration: " + d.toMillis() + " ms");
        }
        long ms = d.toMillis();
        if (ms == 0 && !d.isZero()) {
            long us = d.toNanos() / 1000;
            return us == 0 ? d.toNanos() + " ns" : us + " µs";
        }
        if (ms < 1000) {
            return ms + " ms";
        }
        if (ms < 60_000) {
            long s = ms / 1000;
            long tenths = (ms % 1000) / 100;
            return tenths == 0 ? s + " s" : s + "." + tenths + " s";
        }
        long s = d.getSeconds();
        long h = s / 3600;
        long min = (s % 3600) / 60;
        long sec = s % 60;
        if (h > 0) {
            return min == 0 ? h + " h" : h + " h " + min + " min";
        }
        return sec == 0 ? min + " min" : min + " min " + sec + " s";
    }
}
