package io.nbdnetty.codec;

/** Shared helper that renders a flag word as {@code NAME|NAME|0x..} for the {@code *Flags} classes. */
final class NbdFlags {
    private NbdFlags() {
    }

    static String toString(int flags, String[] names) {
        if (flags == 0) {
            return "0";
        }
        StringBuilder sb = new StringBuilder();
        int rest = flags;
        for (int bit = 0; bit < names.length; bit++) {
            if ((flags & (1 << bit)) != 0 && names[bit] != null) {
                if (sb.length() > 0) {
                    sb.append('|');
                }
                sb.append(names[bit]);
                rest &= ~(1 << bit);
            }
        }
        if (rest != 0) {
            if (sb.length() > 0) {
                sb.append('|');
            }
            sb.append("0x").append(Integer.toHexString(rest));
        }
        return sb.toString();
    }
}
