package io.nbdnetty.examples.cli;

import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdExportEntry;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdExtentList;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdOptionException;
import io.nbdnetty.client.NbdStrings;
import io.nbdnetty.client.NbdUri;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoopGroup;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.Stack;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * {@code nbd info}: what {@code nbdinfo} (libnbd 1.14) prints about an export, with the same keys, values, layout
 * and exit codes, so scripts written for nbdinfo keep working: plain text, {@code --json}, {@code --list}, {@code
 * --size}, {@code --map[=CONTEXT]} (with {@code --totals}), {@code --can}/{@code --is} (exit 0 true, 2 false) and
 * {@code --content}.
 *
 * <p>Like nbdinfo it uses opt mode for the description of exports (NBD_OPT_INFO with the name, description and block
 * size requests, then NBD_OPT_LIST_META_CONTEXT with no query to learn every context), falling back to NBD_OPT_GO
 * when NBD_OPT_INFO is refused. Output is built in memory and printed at the end, so an error prints nothing on
 * stdout.
 */
@Command(name = "info", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Display information and metadata about an NBD server and its exports, "
                + "as nbdinfo(1) does (same keys, values and exit codes).", "",
                "Exit status: 0 on success; 1 on any error; with --can/--is, 0 if the export has the feature, "
                        + "2 if it has not."},
        footer = {"", "Examples:",
                "  nbd info nbd://localhost",
                "  nbd info --json \"nbd+unix:///?socket=/tmp/sock\"",
                "  nbd info --size nbd://example.com",
                "  nbd info --can flush nbd://example.com",
                "  nbd info --map=qemu:dirty-bitmap:b0 nbd://example.com/disk",
                "  nbd info --list nbd://example.com"})
public final class InfoCommand implements Callable<Integer> {
    private static final String BASE_ALLOCATION = NbdMetaContext.BASE_ALLOCATION;
    private static final int CONTENT_BYTES = 8192;

    @Parameters(arity = "1..*", paramLabel = "URI | [ CMD ARGS ]",
            description = "nbd://, nbds://, nbd+unix:///EXPORT?socket=PATH, nbds+unix:// or nbd+vsock://CID:PORT/ URI, "
                    + "or [ CMD ARGS ]: "
                    + "a server run for this command (e.g. [ nbdkit memory 1G ]).")
    List<String> target;

    String uriText;

    @picocli.CommandLine.Mixin
    VerboseOption verbose = new VerboseOption();

    // nbdinfo's colour options: accepted (scripts pass them); this output has no colour to turn on or off.
    @Option(names = {"--color", "--colour", "--no-color", "--no-colour"},
            description = "Accepted for nbdinfo compatibility; the output has no colour.")
    boolean color;

    @Option(names = "--json", description = "Print JSON, with nbdinfo's keys.")
    boolean json;

    @Option(names = {"-L", "--list"}, description = "List every export of the server (NBD_OPT_LIST).")
    boolean list;

    @Option(names = "--size", description = "Print only the export size in bytes.")
    boolean size;

    @Option(names = "--map", arity = "0..1", paramLabel = "CONTEXT", preprocessor = MapPreprocessor.class,
            description = "Print the map of a metadata context (default base:allocation); the context goes after "
                    + "'=', as in --map=qemu:dirty-bitmap:b0.")
    String map;

    @Option(names = {"--totals", "--total"}, description = "With --map: print how much of each type there is.")
    boolean totals;

    @Option(names = {"--can", "--is"}, paramLabel = "FEATURE",
            description = "Exit 0 if the export has the feature, 2 if not: connect, read, write, read-only, "
                    + "rotational, tls, structured-reply, cache, df, fast-zero, flush, fua, multi-conn, trim, zero.")
    String can;

    @Option(names = "--content", description = "Probe the content with file(1) (the default unless --list).")
    boolean content;

    @Option(names = "--no-content", description = "Do not probe the content.")
    boolean noContent;

    @CommandLine.Mixin
    TransportOption transport = new TransportOption();

    @CommandLine.Mixin
    TimeoutOption timeout = new TimeoutOption();

    @CommandLine.Spec
    CommandSpec spec;

    /** Gives {@code --map} its default context unless the context is attached with '=' (getopt's optional_argument). */
    static final class MapPreprocessor implements CommandLine.IParameterPreprocessor {
        @Override
        public boolean preprocess(Stack<String> args, CommandSpec commandSpec, ArgSpec argSpec,
                Map<String, Object> info) {
            if (!"=".equals(info.get("separator"))) {
                argSpec.setValue(BASE_ALLOCATION);
                return true;
            }
            return false;
        }
    }

    private final StringBuilder out = new StringBuilder();
    private boolean probeContent;

    @Override
    public Integer call() throws Exception {
        if ((list ? 1 : 0) + (can != null ? 1 : 0) + (map != null ? 1 : 0) + (size ? 1 : 0) > 1) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "you cannot use --list, --map, --can/--is and --size together");
        }
        if (content && noContent) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "you cannot use --content and --no-content together");
        }
        if (totals && map == null) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "you must use --totals only with --map option");
        }
        if (map != null && map.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--map= needs a context name");
        }
        if (can != null && feature(can, null, null) == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "unknown --can or --is option: " + can);
        }
        probeContent = content || (!list && !noContent && can == null && map == null);
        CommandServer server = null;
        if (CommandServer.startsAt(target, 0)) {
            if (CommandServer.end(target, 0) != target.size()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "nothing may follow [ CMD ARGS ]");
            }
            server = CommandServer.start(target, 0);
            uriText = server.uri();
        } else if (target.size() != 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "expected one URI, got " + target);
        } else {
            uriText = target.get(0);
        }
        NbdUri uri = CliSupport.parseUri(uriText);

        EventLoopGroup group = transport.newGroup(1);
        int exit = 0;
        try (CommandServer running = server) {
            if (size || can != null || map != null) {
                exit = transmissionMode(uri, group);
            } else {
                exit = describe(uri, group);
            }
        } finally {
            CliSupport.shutdown(group);
        }
        PrintWriter w = spec.commandLine().getOut();
        w.print(out);
        w.flush();
        return exit;
    }

    // ---------------------------------------------------------------------------------------- --size, --can, --map

    private int transmissionMode(NbdUri uri, EventLoopGroup group) throws Exception {
        // Like nbdinfo 1.14, no extended headers; except for --map, where they let the server filter block status
        // down to the one context mapped (NBD_FLAG_BLOCK_STATUS_PAYLOAD), and extents may be longer than 4 GiB.
        NbdClientConfig.Builder b = timeout.apply(NbdClientConfig.builder()).requestExtendedHeaders(map != null);
        if (map != null) {
            b.addMetaContext(map);
        }
        NbdHandle handle = CliSupport.start(uri, b.build(), group);
        try {
            NbdConnection conn = CliSupport.await(handle.readyFuture());
            int code = 0;
            if (size) {
                out.append(conn.size()).append('\n');
            } else if (can != null) {
                code = Boolean.TRUE.equals(feature(can, handle, conn.exportInfo())) ? 0 : 2;
            } else {
                doMap(conn);
            }
            CliSupport.await(conn.disconnect());
            return code;
        } finally {
            handle.close();
        }
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
    private static boolean canDf(NbdHandle h, NbdExportInfo info) {
        return info.canDf() && h.structuredRepliesNegotiated();
    }

    /** libnbd ignores FAST_ZERO without WRITE_ZEROES. */
    private static boolean canFastZero(NbdExportInfo info) {
        return info.canFastZero() && info.canZero();
    }

    private void doMap(NbdConnection conn) throws Exception {
        if (!conn.canMetaContext(map)) {
            throw new NbdException("--map: server does not support metadata context \"" + map + "\"");
        }
        NbdExportInfo info = conn.exportInfo();
        long align = validBlockSizes(info) ? info.minimumBlockSize() : 512;
        long maxLen = 0xffffffffL - align + 1;
        long exportSize = conn.size();
        // The replies as the client handed them over (a compact view of each as decoded, 8 bytes per extent on a
        // compact connection); the client has already cut an extent that ran past the end of the export, so the
        // offsets printed never pass exportSize. Printed only when all are in, as nbdinfo does.
        List<NbdExtentList> replies = new ArrayList<>();
        for (long offset = 0; offset < exportSize;) {
            NbdBlockStatus st = CliSupport.await(conn.blockStatus(offset, Math.min(exportSize - offset, maxLen), 0,
                    Set.of(map)));
            NbdExtentList extents = st.extentList(map);
            if (extents.isEmpty()) {
                throw new NbdException("--map: server did not return any extents");
            }
            replies.add(extents);
            offset = extents.end();
        }
        if (totals) {
            printTotals(replies, exportSize);
        } else {
            PrintWriter w = spec.commandLine().getOut();
            printExtents(replies, w);
            w.flush();
        }
    }

    /**
     * Prints the extents as nbdinfo does, merging neighbours of one type (offsets are the running sum of the
     * lengths), straight to the writer through one reusable line buffer: no object per extent or line.
     */
    void printExtents(List<NbdExtentList> replies, java.io.Writer w) throws java.io.IOException {
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
            pad(sb, offset, 10).append("  ");
            pad(sb, len, 10).append("  ");
            pad(sb, type, 3);
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
                sb.append(", \"description\": ").append(jsonString(descr));
            }
            sb.append("}");
        }
    }

    /** Writes and empties the buffer, through a reused char array. */
    private static char[] drain(StringBuilder sb, char[] chars, java.io.Writer w) throws java.io.IOException {
        char[] c = chars.length >= sb.length() ? chars : new char[Math.max(sb.length(), 16 * 1024)];
        sb.getChars(0, sb.length(), c, 0);
        w.write(c, 0, sb.length());
        sb.setLength(0);
        return c;
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

    private void printTotals(List<NbdExtentList> replies, long exportSize) {
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
                out.append(String.format(Locale.ROOT, "%10d %5s%% %3d", c, cFixed1(percent), type));
                if (descr != null) {
                    out.append(' ').append(descr);
                }
                out.append('\n');
            } else {
                if (comma) {
                    out.append(",\n");
                }
                out.append("{ \"size\": ").append(c).append(", \"percent\": ").append(cG(percent))
                        .append(", \"type\": ").append(type);
                if (descr != null) {
                    out.append(", \"description\": ").append(jsonString(descr));
                }
                out.append(" }");
                comma = true;
            }
        }
        if (json) {
            out.append("\n]\n");
        }
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

    static String extentDescription(String context, long type) {
        if (context.equals(BASE_ALLOCATION)) {
            return type == 0 ? "data" : type == 1 ? "hole" : type == 2 ? "zero" : type == 3 ? "hole,zero" : null;
        } else if (context.startsWith(NbdMetaContext.QEMU_DIRTY_BITMAP_PREFIX)) {
            return type == 0 ? "clean" : type == 1 ? "dirty" : null;
        } else if (context.equals(NbdMetaContext.QEMU_ALLOCATION_DEPTH)) {
            return type == 0 ? "absent" : type == 1 ? "local" : "backing depth " + type;
        }
        return null;
    }

    // ------------------------------------------------------------------------------------- description, --list

    /** Everything printed for one export. */
    private record Facts(String name, String description, long size, String content, String uri,
            List<String> contexts, NbdExportInfo info, boolean df, boolean blockSizes) {
    }

    private NbdClientConfig optConfig() {
        return timeout.apply(NbdClientConfig.builder()).optMode(true).fullInfo(true).requestExtendedHeaders(false)
                .build();
    }

    private static NbdHandle openNegotiating(NbdUri uri, NbdClientConfig config, EventLoopGroup group)
            throws Exception {
        NbdHandle h = CliSupport.start(uri, config, group);
        try {
            try {
                CliSupport.await(h.negotiatingFuture());
            } catch (Exception e) {
                // A server without fixed newstyle cannot stop at negotiating; it goes straight to ready, as in libnbd.
                CliSupport.await(h.readyFuture());
            }
            return h;
        } catch (Exception e) {
            h.close();
            throw e;
        }
    }

    private int describe(NbdUri uri, EventLoopGroup group) throws Exception {
        NbdHandle h = openNegotiating(uri, optConfig(), group);
        List<Facts> all = new ArrayList<>();
        boolean ok = true;
        String protocol;
        boolean tls;
        boolean structured;
        try {
            if (list) {
                if (!h.isNegotiating()) {
                    throw new NbdException("cannot list the exports: the server does not support option "
                            + "negotiation (" + h.protocol() + ")");
                }
                List<NbdExportEntry> exports = CliSupport.await(h.optList());
                protocol = h.protocol();
                tls = h.tlsNegotiated();
                structured = h.structuredRepliesNegotiated();
                if (probeContent) {
                    finish(h);
                }
                for (NbdExportEntry e : exports) {
                    NbdHandle h2 = h;
                    if (probeContent) {
                        h2 = openNegotiating(uri, optConfig(), group);
                    }
                    try {
                        if (h2.isNegotiating()) {
                            h2.setExportName(e.name());
                        }
                        all.add(showOne(h2, uri, e.description(), true));
                    } catch (Exception ex) {
                        spec.commandLine().getErr().println("nbd info: " + message(ex) + forExport(e.name()));
                        spec.commandLine().getErr().flush();
                        ok = false;
                    } finally {
                        if (probeContent) {
                            finish(h2);
                        }
                    }
                }
            } else {
                protocol = h.protocol();
                tls = h.tlsNegotiated();
                structured = h.structuredRepliesNegotiated();
                try {
                    all.add(showOne(h, uri, null, false));
                } catch (NbdOptionException e) {
                    throw new NbdException(message(e) + forExport(h.exportName())
                            + " (to list all exports on the server, use --list)", e);
                }
            }
        } finally {
            finish(h);
        }
        if (json) {
            out.append("{\n");
            out.append("\"protocol\": ").append(jsonString(protocol)).append(",\n");
            out.append("\"TLS\": ").append(tls).append(",\n");
            out.append("\"structured\": ").append(structured).append(",\n");
            if (all.isEmpty()) {
                out.append("\"exports\": []\n");
            }
            for (int i = 0; i < all.size(); i++) {
                printJson(all.get(i), i == 0, i == all.size() - 1);
            }
            out.append("}\n");
        } else {
            out.append("protocol: ").append(protocol).append(' ').append(tls ? "with" : "without").append(" TLS")
                    .append(", using ").append(structured ? "structured" : "simple").append(" packets\n");
            for (Facts f : all) {
                printText(f);
            }
        }
        return ok ? 0 : 1;
    }

    private static String message(Exception e) {
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    private static String forExport(String name) {
        return name.isEmpty() ? " for the default export" : " for export: " + name;
    }

    /** Ends a handle politely: NBD_OPT_ABORT while negotiating, NBD_CMD_DISC when ready; then closes it. */
    private static void finish(NbdHandle h) {
        try {
            if (h.isNegotiating()) {
                h.optAbort().get(5, TimeUnit.SECONDS);
            } else if (h.connection() != null && (h.isReady() || h.isProcessing())) {
                h.connection().disconnect().get(5, TimeUnit.SECONDS);
            }
        } catch (Exception ignored) {
            // The answer is already known; a server that hangs up first is fine.
        } finally {
            h.close();
        }
    }

    private Facts showOne(NbdHandle h, NbdUri uri, String listedDescription, boolean inList) throws Exception {
        NbdExportInfo info;
        if (h.isNegotiating()) {
            try {
                info = CliSupport.await(h.optInfo());
            } catch (NbdOptionException e) {
                if (inList) {
                    throw e;
                }
                info = CliSupport.await(h.optGo()).exportInfo();
            }
        } else {
            info = h.connection().exportInfo();
        }
        String name = info.canonicalName() != null ? info.canonicalName() : h.exportName();
        String desc = listedDescription != null ? listedDescription : info.description();
        List<String> contexts = null;
        if (h.isNegotiating() && h.structuredRepliesNegotiated()) {
            try {
                contexts = CliSupport.await(h.optListMetaContexts(List.of())).stream().map(NbdMetaContext::name)
                        .toList();
            } catch (NbdOptionException e) {
                contexts = null;
            }
        }
        String content = probeContent ? content(h, info.size()) : null;
        // Server strings are shown at most 4,096 bytes long, as the protocol caps them (cut with "...").
        return new Facts(NbdStrings.shown(name), NbdStrings.shown(desc), info.size(), content, uriOf(h, uri),
                contexts == null ? null : contexts.stream().map(NbdStrings::shown).toList(), info, canDf(h, info),
                validBlockSizes(info));
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

    /** nbdinfo's content probe: file(1) on the first 8 KiB; null when it cannot be had (best effort). */
    private static String content(NbdHandle h, long exportSize) throws Exception {
        NbdConnection conn = h.isNegotiating() ? CliSupport.await(h.optGo()) : h.connection();
        int n = (int) Math.min(exportSize, CONTENT_BYTES);
        byte[] data = new byte[n];
        if (n > 0) {
            try {
                ByteBuf buf = CliSupport.await(conn.read(0, n));
                try {
                    buf.getBytes(buf.readerIndex(), data);
                } finally {
                    buf.release();
                }
            } catch (NbdException e) {
                return null;
            }
        }
        Path tmp = Files.createTempFile("nbd-info-", ".bin");
        try {
            Files.write(tmp, data);
            Process p;
            try {
                p = new ProcessBuilder("file", "-b", tmp.toString()).redirectErrorStream(false)
                        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            } catch (java.io.IOException e) {
                return null;
            }
            String line;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                line = r.readLine();
            }
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return null;
            }
            return line;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** libnbd's {@code nbd_get_uri}: the scheme, the server or socket, the current export, tls-certificates. */
    static String uriOf(NbdHandle h, NbdUri uri) {
        boolean tls = uri.tls() || h.tlsNegotiated();
        StringBuilder sb = new StringBuilder();
        String query = null;
        if (uri.transport() == NbdUri.Transport.UNIX) {
            sb.append(tls ? "nbds+unix" : "nbd+unix").append("://");
            query = "socket=" + uri.socket();
        } else if (uri.transport() == NbdUri.Transport.VSOCK) {
            sb.append(tls ? "nbds+vsock" : "nbd+vsock").append("://").append(uri.host()).append(':')
                    .append(Integer.toUnsignedString(uri.port()));
        } else {
            sb.append(tls ? "nbds" : "nbd").append("://");
            String host = uri.host();
            sb.append(host.contains(":") ? "[" + host + "]" : host).append(':').append(uri.port());
        }
        sb.append('/').append(escapePath(h.exportName()));
        String certs = uri.query().get("tls-certificates");
        if (certs != null) {
            query = (query == null ? "" : query + "&") + "tls-certificates=" + certs;
        }
        if (query != null) {
            sb.append('?').append(query);
        }
        return sb.toString();
    }

    /** libxml2's escaping of a URI path (xmlSaveUri): unreserved characters and "/;:@&=+$," stay. */
    static String escapePath(String s) {
        StringBuilder sb = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || "-_.!~*'()/;:@&=+$,".indexOf(c) >= 0) {
                sb.append((char) c);
            } else {
                sb.append('%').append(String.format(Locale.ROOT, "%02X", c));
            }
        }
        return sb.toString();
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

    private void flags(Facts f, boolean asJson) {
        NbdExportInfo i = f.info();
        String[][] kv = {
            {"is_rotational", String.valueOf(i.isRotational())},
            {"is_read_only", String.valueOf(i.isReadOnly())},
            {"can_cache", String.valueOf(i.canCache())},
            {"can_df", String.valueOf(f.df())},
            {"can_fast_zero", String.valueOf(canFastZero(i))},
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
        out.append("export=").append(jsonString(f.name())).append(":\n");
        if (f.description() != null && !f.description().isEmpty()) {
            out.append("\tdescription: ").append(f.description()).append('\n');
        }
        String human = humanSize(f.size());
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
        out.append("\t\"export-name\": ").append(jsonString(f.name())).append(",\n");
        if (f.description() != null && !f.description().isEmpty()) {
            out.append("\t\"description\": ").append(jsonString(f.description())).append(",\n");
        }
        if (f.content() != null) {
            out.append("\t\"content\": ").append(jsonString(f.content())).append(",\n");
        }
        if (f.uri() != null) {
            out.append("\t\"uri\": ").append(jsonString(f.uri())).append(",\n");
        }
        if (f.contexts() != null) {
            out.append("\t\"contexts\": [\n");
            for (int i = 0; i < f.contexts().size(); i++) {
                out.append("\t\t").append(jsonString(f.contexts().get(i)));
                if (i + 1 != f.contexts().size()) {
                    out.append(',');
                }
                out.append('\n');
            }
            out.append("\t],\n");
        }
        flags(f, true);
        out.append("\t\"export-size\": ").append(f.size()).append(",\n");
        out.append("\t\"export-size-str\": \"").append(humanSize(f.size())).append("\"\n");
        out.append(last ? "\t} ]\n" : "\t},\n");
    }
}
