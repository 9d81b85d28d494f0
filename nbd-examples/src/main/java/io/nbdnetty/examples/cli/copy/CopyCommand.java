package io.nbdnetty.examples.cli.copy;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdUri;
import io.nbdnetty.client.copy.Copier;
import io.nbdnetty.client.copy.CopySource;
import io.nbdnetty.client.copy.CopyTarget;
import io.nbdnetty.client.copy.NbdEndpoint;
import io.nbdnetty.client.device.NbdConnectionPool;
import io.nbdnetty.examples.cli.CliSupport;
import io.nbdnetty.examples.cli.CommandServer;
import io.nbdnetty.examples.cli.ServeCommand;
import io.nbdnetty.examples.cli.TimeoutOption;
import io.nbdnetty.examples.cli.TlsEngineOption;
import io.nbdnetty.examples.cli.TransportOption;
import io.nbdnetty.examples.cli.VerboseOption;
import io.netty.channel.EventLoopGroup;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code nbd copy SOURCE DESTINATION}: nbdcopy's job on the nbd-netty client. Either end may be an NBD URI, a local
 * file or block device, or {@code -} (stdin/stdout); the destination may be {@code null:}.
 *
 * <p>This class is the command line: it checks the options, opens the two ends ({@link NbdPools} for NBD,
 * {@link LocalEndpoints} for the rest, {@link NullTarget}) and runs the library's copy engine ({@link Copier}) with a
 * window of {@code connections × requests} operations, drawing a {@link ProgressBar} if asked. The engine plans with
 * block status {@code base:allocation} on an NBD source (or the holes of a sparse file), hands each NBD read straight
 * to the write on the event loop for an NBD destination, and writes local destinations in order on this thread. Zero
 * regions become WRITE_ZEROES on an NBD destination, holes in a regular file (which is emptied and extended to the
 * source size first), zeroes on a stream; blocks of zeroes found in the data (--sparse) likewise.
 */
@Command(name = "copy", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Copy to and from an NBD server, as nbdcopy(1) does.", "",
                "SOURCE, DESTINATION := - | FILE | DEVICE | NBD-URI;  DESTINATION += null:", "",
                "Holes and zero regions of an NBD source (base:allocation) are not read: they become "
                        + "WRITE_ZEROES on an NBD destination and holes in a file destination."},
        footer = {"", "Examples:",
                "  nbd copy nbd://example.com local.img",
                "  nbd copy --progress disk.img \"nbd+unix:///?socket=/tmp/sock\"",
                "  nbd copy nbd://server1 nbd://server2",
                "  nbd copy nbd://example.com - | file -",
                "  nbd copy nbd://example.com null:", "",
                "  nbd copy [ nbdkit memory 1G ] null:", "",
                "[ CMD ARGS ] runs the server through socat with the connection on its stdin/stdout (nbdkit gets -s);",
                "nbdcopy uses systemd socket activation, which the JVM cannot do. Such a server gets one connection."})
public final class CopyCommand implements Callable<Integer> {
    /** Picocli makes it. */
    public CopyCommand() {
    }

    // Any number, so that one endpoint gets the same message as three (call() checks); the label is shown as it is.
    @Parameters(arity = "0..*", paramLabel = "SOURCE DESTINATION", hideParamSyntax = true,
            description = "SOURCE: NBD URI, file, block device, - (stdin) or [ CMD ARGS ] (a server run for the copy, "
                    + "e.g. [ nbdkit memory 1G ]); DESTINATION: the same, or null:.")
    List<String> endpoints;

    String source;
    String destination;
    private final List<CommandServer> servers = new ArrayList<>();

    @Option(names = {"-C", "--connections"}, paramLabel = "N", defaultValue = "4",
            description = "Connections per NBD server when it allows multi-conn (default ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = {"-R", "--requests"}, paramLabel = "N", defaultValue = "64",
            description = "Requests in flight per connection (default ${DEFAULT-VALUE}).")
    int requests;

    // 512K rather than nbdcopy's 256K: half the requests for the server to answer. Beside nbdkit on two cores it took
    // a tenth off the server's CPU time for a copy, and the copy's wall time with it (docs/PERFORMANCE.md).
    @Option(names = "--request-size", paramLabel = "SIZE", defaultValue = "512K",
            description = "Largest request (default ${DEFAULT-VALUE}; capped at the servers' maximum block size).")
    String requestSizeText;

    @Option(names = {"-S", "--sparse"}, paramLabel = "SIZE", defaultValue = "4096",
            description = "Turn aligned blocks of this many zero bytes in the data into holes or WRITE_ZEROES "
                    + "(default ${DEFAULT-VALUE}; 0: off).")
    String sparseText;

    @Option(names = {"-p", "--progress"}, description = "Show a progress bar on stderr.")
    boolean progress;

    @Option(names = "--flush", description = "Flush the destination before exiting.")
    boolean flush;

    @Option(names = "--no-extents",
            description = "Read everything: do not ask an NBD source for its extents, nor a file for its holes.")
    boolean noExtents;

    @picocli.CommandLine.Mixin
    VerboseOption verbose = new VerboseOption();

    @CommandLine.Mixin
    TransportOption transport = new TransportOption();

    @CommandLine.Mixin
    TimeoutOption timeout = new TimeoutOption();

    @CommandLine.Mixin
    TlsEngineOption tlsEngine = new TlsEngineOption();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private CopySource src;
    private CopyTarget dst;
    /** The pools behind NBD ends, closed instead of the endpoints. */
    private NbdConnectionPool srcPool;
    private NbdConnectionPool dstPool;

    /** {@code --busy-poll} of a copy, by default, when it applies: see {@link #defaultBusyPollMicros}. */
    public static final long DEFAULT_BUSY_POLL_MICROS = 30;

    /**
     * Whether a copy busy-polls by default: when the threads it keeps busy (its event loops in use, and one for each
     * end that is a file or a pipe, which the copy's own thread reads or writes) leave at least one core free; a
     * server on the same machine, as in the measurements below, is not counted. Then its loop reads each reply as
     * it arrives instead of sleeping and being woken: with one connection to nbdkit, whose one writer per connection
     * waits for the client to read, that took an 8 GiB copy from 2.27 s to 2.07 s (nbdcopy 2.10 s) on two cores,
     * for 0.24 s more CPU. Where the loops already take every core (four connections on two loops, two cores), it
     * gained nothing and would only take CPU from the server, so the library's short default window applies
     * (docs/PERFORMANCE.md).
     *
     * @param cpus the processors available
     * @param loopsInUse event loops the copy's connections use
     * @param otherBusyThreads threads busy with the copy's other ends
     * @return the default busy-poll window in microseconds
     */
    public static long defaultBusyPollMicros(int cpus, int loopsInUse, int otherBusyThreads) {
        return cpus > loopsInUse + otherBusyThreads ? DEFAULT_BUSY_POLL_MICROS : TransportOption.LIBRARY_DEFAULT_MICROS;
    }

    @Override
    public Integer call() throws Exception {
        int next;
        if (endpoints == null) {
            endpoints = List.of();
        }
        try {
            next = CommandServer.startsAt(endpoints, 0) ? CommandServer.end(endpoints, 0) : 1;
            int after = CommandServer.startsAt(endpoints, next) ? CommandServer.end(endpoints, next) : next + 1;
            if (endpoints.size() < 2 || after != endpoints.size()) {
                throw new IllegalArgumentException("expected SOURCE and DESTINATION, got "
                        + (endpoints.isEmpty() ? "none" : endpoints));
            }
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        try {
            return copyWithServers(next);
        } finally {
            servers.forEach(CommandServer::close);
        }
    }

    private Integer copyWithServers(int destinationIndex) throws Exception {
        source = endpoint(0);
        destination = endpoint(destinationIndex);
        if (connections < 1 || requests < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--connections and --requests must be at least 1");
        }
        long rs = parseSize(requestSizeText, "--request-size");
        if (rs < 512 || rs > (32 << 20)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--request-size must be between 512 and 32M: " + requestSizeText);
        }
        long sparse = parseSize(sparseText, "--sparse");
        if (sparse != 0 && (sparse & (sparse - 1)) != 0) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--sparse must be 0 or a power of 2: " + sparseText);
        }
        if (source.equals("null:")) {
            throw new CommandLine.ParameterException(spec.commandLine(), "null: can only be a destination");
        }
        NbdUri srcUri = CliSupport.looksLikeUri(source) ? CliSupport.parseUri(source) : null;
        NbdUri dstUri = CliSupport.looksLikeUri(destination) ? CliSupport.parseUri(destination) : null;
        boolean explicitConnections = spec.commandLine().getParseResult().hasMatchedOption("--connections");

        int cpus = Runtime.getRuntime().availableProcessors();
        int threads = Math.min(2, cpus);
        int nbdEnds = (srcUri != null ? 1 : 0) + (dstUri != null ? 1 : 0);
        int otherEnds = (srcUri == null ? 1 : 0) + (dstUri == null && !destination.equals("null:") ? 1 : 0);
        EventLoopGroup group = transport.newGroup(threads,
                defaultBusyPollMicros(cpus, Math.min(threads, nbdEnds * connections), otherEnds));
        try {
            NbdPools pools = new NbdPools(group, this::note);
            NbdConnection srcFirst = null;
            NbdConnection dstFirst = null;
            NbdClientConfig srcConfig = tlsEngine.apply(timeout.apply(NbdClientConfig.builder()),
                    srcUri != null && srcUri.tls()).maxInFlightRequests(requests)
                    .metaContexts(noExtents ? List.of() : List.of(NbdMetaContext.BASE_ALLOCATION)).build();
            NbdClientConfig dstConfig = tlsEngine.apply(timeout.apply(NbdClientConfig.builder()),
                    dstUri != null && dstUri.tls()).maxInFlightRequests(requests).build();
            try {
                if (srcUri != null) {
                    srcFirst = pools.first(srcUri, srcConfig);
                } else {
                    src = LocalEndpoints.openLocalSource(source, !noExtents);
                }
                if (destination.equals("null:")) {
                    dst = new NullTarget();
                } else if (dstUri != null) {
                    dstFirst = pools.first(dstUri, dstConfig);
                    if (dstFirst.exportInfo().isReadOnly()) {
                        throw new NbdException(destination + ": the destination is read-only, cannot write to it");
                    }
                } else {
                    dst = LocalEndpoints.openLocalDestination(destination);
                }
                int n = connections;
                String refuser = srcFirst != null && !srcFirst.exportInfo().canMultiConn() ? source
                        : dstFirst != null && !dstFirst.exportInfo().canMultiConn() ? destination : null;
                if (refuser == null && !servers.isEmpty()) {
                    // Each connection to a [ CMD ARGS ] server gets a server process of its own.
                    refuser = "[ CMD ARGS ]";
                }
                if (n > 1 && refuser != null) {
                    if (explicitConnections) {
                        note(refuser.equals("[ CMD ARGS ]")
                                ? "a [ CMD ARGS ] server takes one connection: using 1 connection"
                                : refuser + " does not advertise multi-conn: using 1 connection");
                    }
                    n = 1;
                }
                int used = n;
                if (srcFirst != null) {
                    boolean extents = !noExtents && srcFirst.canMetaContext(NbdMetaContext.BASE_ALLOCATION);
                    srcPool = pools.pool(n, srcFirst, srcUri, srcConfig, source);
                    srcFirst = null;
                    src = new NbdEndpoint(source, srcPool, extents, this::note);
                    used = Math.min(used, srcPool.connections().size());
                }
                if (dstFirst != null) {
                    dstPool = pools.pool(n, dstFirst, dstUri, dstConfig, destination);
                    dstFirst = null;
                    dst = new NbdEndpoint(destination, dstPool, false, null);
                    used = Math.min(used, dstPool.connections().size());
                }
                Copier copier = Copier.builder().requestSize(rs).window(used * requests).sparse(sparse).flush(flush)
                        .build();
                copier.copy(src, dst, progress ? new ProgressBar(spec.commandLine().getErr()) : null);
            } finally {
                NbdPools.closeQuietly(srcFirst);
                NbdPools.closeQuietly(dstFirst);
                closeAll();
            }
        } finally {
            CliSupport.shutdown(group);
        }
        return 0;
    }

    /** The endpoint at an index: the token itself, or the URI of the server a [ CMD ARGS ] group starts. */
    private String endpoint(int index) throws Exception {
        if (!CommandServer.startsAt(endpoints, index)) {
            return endpoints.get(index);
        }
        CommandServer server = CommandServer.start(endpoints, index);
        servers.add(server);
        return server.uri();
    }

    /** Closes both ends, source first; the first failure is thrown once both are closed. */
    private void closeAll() throws Exception {
        Exception first = null;
        for (AutoCloseable c : new AutoCloseable[] {srcPool != null ? srcPool : src, dstPool != null ? dstPool : dst}) {
            if (c != null) {
                try {
                    if (c instanceof NbdConnectionPool p) {
                        NbdPools.close(p);
                    } else {
                        c.close();
                    }
                } catch (Exception e) {
                    first = first == null ? e : first;
                }
            }
        }
        src = null;
        dst = null;
        srcPool = null;
        dstPool = null;
        if (first != null) {
            throw first;
        }
    }

    private long parseSize(String text, String option) {
        try {
            return ServeCommand.parseSizeValue(text);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), option + ": " + e.getMessage());
        }
    }

    private void note(String message) {
        PrintWriter err = spec.commandLine().getErr();
        err.println("nbd copy: " + message);
        err.flush();
    }
}
