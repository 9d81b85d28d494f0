package io.nbdnetty.examples.cli.info;

import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdHandle;

import java.util.Locale;

/** An export's features as libnbd reports them: {@code --can}/{@code --is} names, and libnbd's sanity rules. */
final class Features {
    private Features() {
    }

    /** nbdinfo's {@code --can}/{@code --is} names (case-insensitive); null for an unknown name. */
    static Boolean feature(String name, NbdHandle h, NbdExportInfo info) {
        String n = name.toLowerCase(Locale.ROOT);
        boolean known = h != null;
        switch (n) {
            case "connect", "read":
                return true;
            case "tls":
                return known ? h.tlsNegotiated() : false;
            case "sr", "structured", "structured reply", "structured-reply", "structured_reply",
                    "structured replies", "structured-replies", "structured_replies":
                return known ? h.structuredRepliesNegotiated() : false;
            case "readonly", "read-only", "read_only":
                return known ? info.isReadOnly() : false;
            case "write":
                return known ? !info.isReadOnly() : false;
            case "rotational":
                return known ? info.isRotational() : false;
            case "cache":
                return known ? info.canCache() : false;
            case "df":
                return known ? canDf(h, info) : false;
            case "fastzero", "fast-zero", "fast_zero":
                return known ? canFastZero(info) : false;
            case "flush":
                return known ? info.canFlush() : false;
            case "fua":
                return known ? info.canFua() : false;
            case "multiconn", "multi-conn", "multi_conn":
                return known ? info.canMultiConn() : false;
            case "trim":
                return known ? info.canTrim() : false;
            case "zero":
                return known ? info.canZero() : false;
            default:
                return null;
        }
    }

    /** libnbd ignores DF without structured replies. */
    static boolean canDf(NbdHandle h, NbdExportInfo info) {
        return info.canDf() && h.structuredRepliesNegotiated();
    }

    /** libnbd ignores FAST_ZERO without WRITE_ZEROES. */
    static boolean canFastZero(NbdExportInfo info) {
        return info.canFastZero() && info.canZero();
    }

    /** libnbd keeps the server's block sizes only if they make sense (lib/flags.c). */
    static boolean validBlockSizes(NbdExportInfo info) {
        if (!info.blockSizeAdvertised()) {
            return false;
        }
        long min = info.minimumBlockSize();
        long pref = info.preferredBlockSize();
        long max = info.maximumBlockSize();
        if (min == 0 || min > 64 * 1024 || min > pref || pref < 512 || pref > max) {
            return false;
        }
        if ((min & (min - 1)) != 0 || (pref & (pref - 1)) != 0) {
            return false;
        }
        return max == 0xffffffffL || max % min == 0;
    }
}
