package io.nbdnetty.examples.cli.info;

import io.nbdnetty.client.NbdExportInfo;

import java.util.ArrayList;
import java.util.List;

/** Prints a {@link Description} as nbdinfo does: its text layout, or its JSON (same keys, same order). */
final class DescriptionPrinter {
    private final StringBuilder out;

    DescriptionPrinter(StringBuilder out) {
        this.out = out;
    }

    /** Prints it all: the connection line or keys, then every export. */
    void print(Description d, boolean json) {
        List<Facts> all = d.exports();
        if (json) {
            out.append("{\n");
            out.append("\"protocol\": ").append(NbdinfoFormat.jsonString(d.protocol())).append(",\n");
            out.append("\"TLS\": ").append(d.tls()).append(",\n");
            out.append("\"structured\": ").append(d.structured()).append(",\n");
            if (all.isEmpty()) {
                out.append("\"exports\": []\n");
            }
            for (int i = 0; i < all.size(); i++) {
                printJson(all.get(i), i == 0, i == all.size() - 1);
            }
            out.append("}\n");
        } else {
            out.append("protocol: ").append(d.protocol()).append(' ').append(d.tls() ? "with" : "without")
                    .append(" TLS, using ").append(d.structured() ? "structured" : "simple").append(" packets\n");
            for (Facts f : all) {
                printText(f);
            }
        }
    }

    private void flags(Facts f, boolean asJson) {
        NbdExportInfo i = f.info();
        String[][] kv = {
            {"is_rotational", String.valueOf(i.isRotational())},
            {"is_read_only", String.valueOf(i.isReadOnly())},
            {"can_cache", String.valueOf(i.canCache())},
            {"can_df", String.valueOf(f.df())},
            {"can_fast_zero", String.valueOf(Features.canFastZero(i))},
            {"can_flush", String.valueOf(i.canFlush())},
            {"can_fua", String.valueOf(i.canFua())},
            {"can_multi_conn", String.valueOf(i.canMultiConn())},
            {"can_trim", String.valueOf(i.canTrim())},
            {"can_zero", String.valueOf(i.canZero())},
        };
        List<String[]> all = new ArrayList<>(List.of(kv));
        if (f.blockSizes()) {
            all.add(new String[] {"block_size_minimum", String.valueOf(i.minimumBlockSize())});
            all.add(new String[] {"block_size_preferred", String.valueOf(i.preferredBlockSize())});
            all.add(new String[] {"block_size_maximum", String.valueOf(i.maximumBlockSize())});
        }
        for (String[] e : all) {
            if (asJson) {
                out.append("\t\"").append(e[0]).append("\": ").append(e[1]).append(",\n");
            } else {
                out.append('\t').append(e[0]).append(": ").append(e[1]).append('\n');
            }
        }
    }

    private void printText(Facts f) {
        out.append("export=").append(NbdinfoFormat.jsonString(f.name())).append(":\n");
        if (f.description() != null && !f.description().isEmpty()) {
            out.append("\tdescription: ").append(f.description()).append('\n');
        }
        String human = NbdinfoFormat.humanSize(f.size());
        if (!human.equals(Long.toUnsignedString(f.size()))) {
            out.append("\texport-size: ").append(f.size()).append(" (").append(human).append(")\n");
        } else {
            out.append("\texport-size: ").append(f.size()).append('\n');
        }
        if (f.content() != null) {
            out.append("\tcontent: ").append(f.content()).append('\n');
        }
        if (f.uri() != null) {
            out.append("\turi: ").append(f.uri()).append('\n');
        }
        if (f.contexts() != null) {
            out.append("\tcontexts:\n");
            for (String c : f.contexts()) {
                out.append("\t\t").append(c).append('\n');
            }
        }
        flags(f, false);
    }

    private void printJson(Facts f, boolean first, boolean last) {
        if (first) {
            out.append("\"exports\": [\n");
        }
        out.append("\t{\n");
        out.append("\t\"export-name\": ").append(NbdinfoFormat.jsonString(f.name())).append(",\n");
        if (f.description() != null && !f.description().isEmpty()) {
            out.append("\t\"description\": ").append(NbdinfoFormat.jsonString(f.description())).append(",\n");
        }
        if (f.content() != null) {
            out.append("\t\"content\": ").append(NbdinfoFormat.jsonString(f.content())).append(",\n");
        }
        if (f.uri() != null) {
            out.append("\t\"uri\": ").append(NbdinfoFormat.jsonString(f.uri())).append(",\n");
        }
        if (f.contexts() != null) {
            out.append("\t\"contexts\": [\n");
            for (int i = 0; i < f.contexts().size(); i++) {
                out.append("\t\t").append(NbdinfoFormat.jsonString(f.contexts().get(i)));
                if (i + 1 != f.contexts().size()) {
                    out.append(',');
                }
                out.append('\n');
            }
            out.append("\t],\n");
        }
        flags(f, true);
        out.append("\t\"export-size\": ").append(f.size()).append(",\n");
        out.append("\t\"export-size-str\": \"").append(NbdinfoFormat.humanSize(f.size())).append("\"\n");
        out.append(last ? "\t} ]\n" : "\t},\n");
    }
}
