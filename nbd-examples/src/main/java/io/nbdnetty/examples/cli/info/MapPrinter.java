package io.nbdnetty.examples.cli.info;

import io.nbdnetty.client.NbdExtentList;
import io.nbdnetty.client.NbdMetaContext;

import java.io.IOException;
import java.io.Writer;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** Prints what {@link MapWalk} found as nbdinfo {@code --map} does: the extents, or with {@code --totals} the sums. */
final class MapPrinter {
    private final String map;
    private final boolean json;

    MapPrinter(String map, boolean json) {
        this.map = map;
        this.json = json;
    }

    /**
     * Prints the extents as nbdinfo does, merging neighbours of one type (offsets are the running sum of the
     * lengths), straight to the writer through one reusable line buffer: no object per extent or line.
     */
    void printExtents(List<NbdExtentList> replies, Writer w) throws IOException {
        StringBuilder sb = new StringBuilder(16 * 1024);
        char[] chars = new char[0];
        if (json) {
            sb.append("[\n");
        }
        long offset = 0;
        long runLength = 0;
        long runType = 0;
        boolean first = true;
        for (NbdExtentList l : replies) {
            for (int i = 0, n = l.size(); i < n; i++) {
                long type = l.flags(i);
                if (runLength > 0 && type != runType) {
                    printRun(sb, offset, runLength, runType, first);
                    first = false;
                    offset += runLength;
                    runLength = 0;
                    if (sb.length() >= 8 * 1024) {
                        chars = drain(sb, chars, w);
                    }
                }
                runType = type;
                runLength += l.length(i);
            }
        }
        if (runLength > 0) {
            printRun(sb, offset, runLength, runType, first);
        }
        if (json) {
            sb.append("\n]\n");
        }
        drain(sb, chars, w);
    }

    private void printRun(StringBuilder sb, long offset, long len, long type, boolean first) {
        String descr = extentDescription(map, type);
        if (!json) {
            NbdinfoFormat.pad(sb, offset, 10).append("  ");
            NbdinfoFormat.pad(sb, len, 10).append("  ");
            NbdinfoFormat.pad(sb, type, 3);
            if (descr != null) {
                sb.append("  ").append(descr);
            }
            sb.append('\n');
        } else {
            if (!first) {
                sb.append(",\n");
            }
            sb.append("{ \"offset\": ").append(offset).append(", \"length\": ").append(len)
                    .append(", \"type\": ").append(type);
            if (descr != null) {
                sb.append(", \"description\": ").append(NbdinfoFormat.jsonString(descr));
            }
            sb.append("}");
        }
    }

    /** Writes and empties the buffer, through a reused char array. */
    private static char[] drain(StringBuilder sb, char[] chars, Writer w) throws IOException {
        char[] c = chars.length >= sb.length() ? chars : new char[Math.max(sb.length(), 16 * 1024)];
        sb.getChars(0, sb.length(), c, 0);
        w.write(c, 0, sb.length());
        sb.setLength(0);
        return c;
    }

    void printTotals(List<NbdExtentList> replies, long exportSize, StringBuilder out) {
        if (exportSize == 0) {
            if (json) {
                out.append("[]\n");
            }
            return;
        }
        if (json) {
            out.append("[\n");
        }
        Map<Long, Long> byType = new TreeMap<>();
        for (NbdExtentList l : replies) {
            long runType = 0;
            long runLength = 0;
            for (int i = 0, n = l.size(); i < n; i++) {
                if (runLength > 0 && l.flags(i) != runType) {
                    byType.merge(runType, runLength, Long::sum);
                    runLength = 0;
                }
                runType = l.flags(i);
                runLength += l.length(i);
            }
            if (runLength > 0) {
                byType.merge(runType, runLength, Long::sum);
            }
        }
        boolean comma = false;
        for (Map.Entry<Long, Long> t : byType.entrySet()) {
            long c = t.getValue();
            long type = t.getKey();
            double percent = 100.0 * c / exportSize;
            String descr = extentDescription(map, type);
            if (!json) {
                out.append(String.format(Locale.ROOT, "%10d %5s%% %3d", c, NbdinfoFormat.cFixed1(percent), type));
                if (descr != null) {
                    out.append(' ').append(descr);
                }
                out.append('\n');
            } else {
                if (comma) {
                    out.append(",\n");
                }
                out.append("{ \"size\": ").append(c).append(", \"percent\": ").append(NbdinfoFormat.cG(percent))
                        .append(", \"type\": ").append(type);
                if (descr != null) {
                    out.append(", \"description\": ").append(NbdinfoFormat.jsonString(descr));
                }
                out.append(" }");
                comma = true;
            }
        }
        if (json) {
            out.append("\n]\n");
        }
    }

    static String extentDescription(String context, long type) {
        if (context.equals(NbdMetaContext.BASE_ALLOCATION)) {
            return type == 0 ? "data" : type == 1 ? "hole" : type == 2 ? "zero" : type == 3 ? "hole,zero" : null;
        } else if (context.startsWith(NbdMetaContext.QEMU_DIRTY_BITMAP_PREFIX)) {
            return type == 0 ? "clean" : type == 1 ? "dirty" : null;
        } else if (context.equals(NbdMetaContext.QEMU_ALLOCATION_DEPTH)) {
            return type == 0 ? "absent" : type == 1 ? "local" : "backing depth " + type;
        }
        return null;
    }
}
