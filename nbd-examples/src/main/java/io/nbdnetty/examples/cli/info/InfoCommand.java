package io.nbdnetty.examples.cli.info;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdExtentList;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdUri;
import io.nbdnetty.examples.cli.CliSupport;
import io.nbdnetty.examples.cli.CommandServer;
import io.nbdnetty.examples.cli.TimeoutOption;
import io.nbdnetty.examples.cli.TlsEngineOption;
import io.nbdnetty.examples.cli.TransportOption;
import io.nbdnetty.examples.cli.VerboseOption;
import io.netty.channel.EventLoopGroup;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.Stack;
import java.util.concurrent.Callable;

/**
 * {@code nbd info}: what {@code nbdinfo} (libnbd 1.14) prints about an export, with the same keys, values, layout
 * and exit codes, so scripts written for nbdinfo keep working: plain text, {@code --json}, {@code --list}, {@code
 * --size}, {@code --map[=CONTEXT]} (with {@code --totals}), {@code --can}/{@code --is} (exit 0 true, 2 false) and
 * {@code --content}.
 *
 * <p>This class is the command line and the connect flow; the rest of the package does one job each:
 * {@link ExportProbe} gathers the {@link Facts} of the exports (opt mode, as nbdinfo), {@link DescriptionPrinter}
 * prints them as text or JSON, {@link MapWalk} and {@link MapPrinter} do {@code --map}, {@link Features} names the
 * {@code --can} features, {@link NbdinfoFormat} emulates nbdinfo's printf and JSON strings, {@link UriText} builds the
 * URI. Output is built in memory and printed at the end (except a long {@code --map}), so an error prints nothing on
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
    /** Picocli makes it. */
    public InfoCommand() {
    }

    private static final String BASE_ALLOCATION = NbdMetaContext.BASE_ALLOCATION;

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

    @CommandLine.Mixin
    TlsEngineOption tlsEngine = new TlsEngineOption();

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
        if (can != null && Features.feature(can, null, null) == null) {
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
        try {
            if (size || can != null || map != null) {
                exit = transmissionMode(uri, group);
            } else {
                exit = describe(uri, group);
            }
        } finally {
            if (server != null) {
                server.close();
            }
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
        NbdClientConfig.Builder b = tlsEngine.apply(timeout.apply(NbdClientConfig.builder()), uri.tls())
                .requestExtendedHeaders(map != null);
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
                code = Boolean.TRUE.equals(Features.feature(can, handle, conn.exportInfo())) ? 0 : 2;
            } else {
                doMap(conn);
            }
            CliSupport.await(conn.disconnect());
            return code;
        } finally {
            handle.close();
        }
    }

    private void doMap(NbdConnection conn) throws Exception {
        List<NbdExtentList> replies = MapWalk.walk(conn, map);
        MapPrinter printer = new MapPrinter(map, json);
        if (totals) {
            printer.printTotals(replies, conn.size(), out);
        } else {
            // Straight to stdout, as nbdinfo prints a long map: no object per extent or line.
            PrintWriter w = spec.commandLine().getOut();
            printer.printExtents(replies, w);
            w.flush();
        }
    }

    // ------------------------------------------------------------------------------------- description, --list

    private int describe(NbdUri uri, EventLoopGroup group) throws Exception {
        NbdClientConfig config = tlsEngine.apply(timeout.apply(NbdClientConfig.builder()), uri.tls()).optMode(true)
                .fullInfo(true)
                .requestExtendedHeaders(false).build();
        Description d = new ExportProbe(uri, config, group, probeContent, spec.commandLine().getErr())
                .describe(list);
        new DescriptionPrinter(out).print(d, json);
        return d.complete() ? 0 : 1;
    }
}
