package io.nbdnetty.examples.cli;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdConnectionPool;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdUri;
import io.nbdnetty.examples.cli.CopyEndpoints.Destination;
import io.nbdnetty.examples.cli.CopyEndpoints.Nbd;
import io.nbdnetty.examples.cli.CopyEndpoints.Region;
import io.nbdnetty.examples.cli.CopyEndpoints.Source;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoopGroup;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code nbd copy SOURCE DESTINATION}: nbdcopy's job on the nbd-netty client. Either end may be an NBD URI, a local
 * file or block device, or {@code -} (stdin/stdout); the destination may be {@code null:}.
 *
 * <p>The main thread plans the copy (block status {@code base:allocation} on an NBD source tells data from zeroes)
 * and keeps a bounded window of {@code connections × requests} operations in flight; each NBD read completes on the
 * event loop and, for an NBD destination, is handed straight to the write (the buffer's ownership passes to it).
 * Local writes happen on the main thread when the oldest operation completes, in order, so stdout gets the bytes in
 * sequence. Zero regions become WRITE_ZEROES on an NBD destination, holes in a regular file (which is emptied and
 * extended to the source size first), zeroes on a stream; blocks of zeroes found in the data (--sparse) likewise.
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
    /** How much of an NBD source one block status request plans at a time. */
    private static final long PLAN_BATCH = 1L << 30;

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

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** One operation in the window. */
    private static final class Op {
        final long offset;
        final long length;
        final boolean zero;
        /** For a synchronous destination, the data (null for zeroes); for an async one, the completed write. */
        final CompletableFuture<?> future;

        Op(long offset, long length, boolean zero, CompletableFuture<?> future) {
            this.offset = offset;
            this.length = length;
            this.zero = zero;
            this.future = future;
        }
    }

    private Source src;
    private Destination dst;
    private long requestSize;
    /** How long the first connection to an NBD end took, in nanoseconds (the longer of the two ends). */
    private long firstTook;
    private long sparse;
    private int windowSize;
    private final ArrayDeque<Op> window = new ArrayDeque<>();
    private final Object asyncLock = new Object();
    private final java.util.concurrent.atomic.AtomicLong asyncDone = new java.util.concurrent.atomic.AtomicLong();
    private int asyncInFlight;
    private NbdException asyncError;
    private Progress bar;
    private long done;

    /** {@code --busy-poll} of a copy, by default, when it applies: see {@link #defaultBusyPollMicros}. */
    static final long DEFAULT_BUSY_POLL_MICROS = 30;

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
    static long defaultBusyPollMicros(int cpus, int loopsInUse, int otherBusyThreads) {
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
        sparse = parseSize(sparseText, "--sparse");
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
            NbdConnection srcFirst = null;
            NbdConnection dstFirst = null;
            NbdClientConfig srcConfig = timeout.apply(NbdClientConfig.builder()).maxInFlightRequests(requests)
                    .metaContexts(noExtents ? List.of() : List.of(NbdMetaContext.BASE_ALLOCATION)).build();
            NbdClientConfig dstConfig = timeout.apply(NbdClientConfig.builder()).maxInFlightRequests(requests)
                    .build();
            try {
                long began = System.nanoTime();
                if (srcUri != null) {
                    srcFirst = CliSupport.await(CliSupport.connect(srcUri, srcConfig, group));
                    firstTook = Math.max(firstTook, System.nanoTime() - began);
                } else {
                    src = CopyEndpoints.openLocalSource(source, !noExtents);
                }
                if (destination.equals("null:")) {
                    dst = new CopyEndpoints.Null();
                } else if (dstUri != null) {
                    began = System.nanoTime();
                    dstFirst = CliSupport.await(CliSupport.connect(dstUri, dstConfig, group));
                    firstTook = Math.max(firstTook, System.nanoTime() - began);
                    if (dstFirst.exportInfo().isReadOnly()) {
                        throw new NbdException(destination + ": the destination is read-only, cannot write to it");
                    }
                } else {
                    dst = CopyEndpoints.openLocalDestination(destination);
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
                    src = new Nbd(source, pool(n, srcFirst, srcUri, srcConfig, group, source), !noExtents);
                    ((Nbd) src).notes = this::note;
                    srcFirst = null;
                    used = Math.min(used, ((Nbd) src).pool.connections().size());
                }
                if (dstFirst != null) {
                    dst = new Nbd(destination, pool(n, dstFirst, dstUri, dstConfig, group, destination), false);
                    dstFirst = null;
                    used = Math.min(used, ((Nbd) dst).pool.connections().size());
                }
                windowSize = used * requests;
                requestSize = Math.max(1, Math.min(rs, Math.min(src.maxRequest(), dst.maxRequest())));
                copy();
            } finally {
                closeQuietly(srcFirst);
                closeQuietly(dstFirst);
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

    private void closeAll() throws Exception {
        Exception first = null;
        for (AutoCloseable c : new AutoCloseable[] {src, dst}) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    first = first == null ? e : first;
                }
            }
        }
        src = null;
        dst = null;
        if (first != null) {
            throw first;
        }
    }

    private static void closeQuietly(NbdConnection c) {
        if (c != null) {
            c.handle().close();
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

    /**
     * A pool whose first connection is the one already open (to learn the export's flags). A server that takes fewer
     * connections than asked gets the ones it completed, with a note: the others have as long as the first took
     * (twice, and at least the pool's default) once they have started.
     */
    private NbdConnectionPool pool(int n, NbdConnection first, NbdUri uri, NbdClientConfig config,
            EventLoopGroup group, String name) throws Exception {
        AtomicBoolean firstGiven = new AtomicBoolean();
        java.time.Duration extraWait = java.time.Duration.ofNanos(Math.max(
                NbdConnectionPool.DEFAULT_EXTRA_WAIT.toNanos(), 2 * firstTook));
        NbdConnectionPool pool = CliSupport.await(NbdConnectionPool.open(n, () -> firstGiven.compareAndSet(false,
                true) ? CompletableFuture.completedFuture(first) : CliSupport.connect(uri, config, group),
                extraWait));
        if (!pool.shortfall().isEmpty()) {
            int got = pool.connections().size();
            note(name + " accepted " + got + " of " + n + " connections (" + pool.shortfall().get(0).getMessage()
                    + "): using " + got);
        }
        return pool;
    }

    // ------------------------------------------------------------------------------------------------- copying

    private void copy() throws Exception {
        long size = src.size();
        if (size >= 0 && dst.size() >= 0 && !dst.skipZeroes() && size > dst.size()) {
            throw new NbdException("destination size is smaller than source size (" + size + " > " + dst.size()
                    + ")");
        }
        dst.prepare(Math.max(size, 0));
        bar = progress ? new Progress(spec.commandLine().getErr(), size) : null;
        try {
            if (src.stream()) {
                copyStream();
            } else {
                for (long at = 0; at < size; at += PLAN_BATCH) {
                    for (Region r : src.regions(at, Math.min(PLAN_BATCH, size - at))) {
                        if (r.zero()) {
                            issueZero(r.offset(), r.length());
                        } else {
                            for (long o = r.offset(); o < r.end(); o += requestSize) {
                                issueData(o, (int) Math.min(requestSize, r.end() - o));
                            }
                        }
                    }
                }
                drain();
            }
            if (flush) {
                CliSupport.await(dst.flush());
            }
        } catch (Exception e) {
            abandon();
            throw e;
        } finally {
            if (bar != null) {
                bar.finish(done);
            }
        }
    }

    private void copyStream() throws Exception {
        long offset = 0;
        long limit = dst.skipZeroes() || dst.size() < 0 ? Long.MAX_VALUE : dst.size();
        while (true) {
            ByteBuf buf = src.read(offset, (int) requestSize).join();
            int n = buf.readableBytes();
            if (n == 0) {
                buf.release();
                break;
            }
            if (offset + n > limit) {
                buf.release();
                throw new NbdException("destination size is smaller than source size (" + limit + " bytes)");
            }
            issue(new Op(offset, n, false, dataFuture(offset, CompletableFuture.completedFuture(buf))));
            offset += n;
            if (n < requestSize) {
                break;
            }
        }
        drain();
        dst.finish(offset);
    }

    private void issueData(long offset, int length) throws Exception {
        waitForRoom();
        CompletableFuture<ByteBuf> read;
        try {
            read = src.read(offset, length);
        } catch (Exception e) {
            throw new NbdException("reading " + src + " at offset " + offset + ": " + e.getMessage(), e);
        }
        issue(new Op(offset, length, false, dataFuture(offset, read)));
    }

    private CompletableFuture<?> dataFuture(long offset, CompletableFuture<ByteBuf> read) {
        if (!dst.async()) {
            return read;
        }
        // Async destination: hand the buffer straight to the write, on the event loop.
        return read.thenCompose(buf -> writeSparse(offset, buf));
    }

    private void issueZero(long offset, long length) throws Exception {
        if (dst.skipZeroes()) {
            done += length;
            tick();
            return;
        }
        waitForRoom();
        issue(new Op(offset, length, true, dst.async() ? dst.zero(offset, length) : null));
    }

    private void issue(Op op) throws Exception {
        if (dst.async()) {
            issueAsync(op);
            return;
        }
        window.addLast(op);
        waitForRoom();
    }

    /**
     * Async destination (NBD or null:): the whole copy runs on the event loops. This thread only plans and issues;
     * it waits while the window is full and is woken once a batch of operations has completed, not after each one
     * (and never waits for the oldest operation in particular).
     */
    private void issueAsync(Op op) throws Exception {
        synchronized (asyncLock) {
            while (asyncInFlight >= windowSize && asyncError == null) {
                asyncLock.wait();
            }
            throwAsyncError();
            asyncInFlight++;
        }
        op.future.whenComplete((v, e) -> {
            asyncDone.addAndGet(op.length);
            synchronized (asyncLock) {
                asyncInFlight--;
                if (e != null && asyncError == null) {
                    Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null
                            ? e.getCause() : e;
                    asyncError = new NbdException("copying " + op.length + " bytes at offset " + op.offset + ": "
                            + (cause.getMessage() != null ? cause.getMessage() : cause), cause);
                }
                if (asyncInFlight <= windowSize - Math.max(1, windowSize / 8) || asyncInFlight == 0
                        || asyncError != null) {
                    asyncLock.notifyAll();
                }
            }
        });
        done = asyncDone.get();
        tick();
    }

    private void throwAsyncError() throws NbdException {
        if (asyncError != null) {
            throw asyncError;
        }
    }

    private void waitForRoom() throws Exception {
        while (window.size() >= windowSize) {
            completeHead();
        }
    }

    private void drain() throws Exception {
        if (dst.async()) {
            synchronized (asyncLock) {
                while (asyncInFlight > 0) {
                    asyncLock.wait();
                }
                throwAsyncError();
            }
            done = asyncDone.get();
            tick();
            return;
        }
        while (!window.isEmpty()) {
            completeHead();
        }
    }

    private void completeHead() throws Exception {
        Op op = window.peekFirst();
        try {
            if (dst.async()) {
                CliSupport.await(op.future);
            } else if (op.zero) {
                dst.zero(op.offset, op.length);
            } else {
                ByteBuf buf = (ByteBuf) CliSupport.await(op.future);
                window.pollFirst();
                writeSparse(op.offset, buf).join();
                done += op.length;
                tick();
                return;
            }
        } catch (Exception e) {
            throw new NbdException("copying " + op.length + " bytes at offset " + op.offset + ": "
                    + (e.getMessage() != null ? e.getMessage() : e), e);
        }
        window.pollFirst();
        done += op.length;
        tick();
    }

    /** After a failure: waits for what is in flight and releases every buffer. */
    private void abandon() {
        synchronized (asyncLock) {
            while (asyncInFlight > 0) {
                try {
                    asyncLock.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        while (!window.isEmpty()) {
            Op op = window.pollFirst();
            if (op.future == null) {
                continue;
            }
            try {
                Object r = op.future.join();
                if (r instanceof ByteBuf b) {
                    b.release();
                }
            } catch (RuntimeException ignored) {
                // Already failed; the first error is reported.
            }
        }
    }

    private void tick() {
        if (bar != null) {
            bar.update(done);
        }
    }

    /**
     * Writes a buffer, turning aligned all-zero blocks of {@link #sparse} bytes into skipped ranges (sparse file,
     * null:) or WRITE_ZEROES (NBD); streams and block devices get everything. Releases the buffer.
     */
    private CompletableFuture<Void> writeSparse(long offset, ByteBuf buf) {
        boolean nbdZero = dst instanceof Nbd n && n.info().canZero();
        if (sparse == 0 || !(dst.skipZeroes() || nbdZero) || dst.discards()) {
            return write(offset, buf);
        }
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        try {
            int len = buf.readableBytes();
            int base = buf.readerIndex();
            int runStart = 0;
            boolean runZero = false;
            int pos = 0;
            while (pos < len) {
                long abs = offset + pos;
                int next = (int) Math.min(len, pos + (sparse - (abs % sparse)));
                boolean z = next - pos == sparse && isZero(buf, base + pos, next - pos);
                if (pos == 0) {
                    runZero = z;
                } else if (z != runZero) {
                    parts.add(emit(offset, buf, base, runStart, pos, runZero));
                    runStart = pos;
                    runZero = z;
                }
                pos = next;
            }
            if (len > 0) {
                parts.add(emit(offset, buf, base, runStart, len, runZero));
            }
        } catch (Exception e) {
            parts.add(CompletableFuture.failedFuture(e));
        } finally {
            buf.release();
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
    }

    private CompletableFuture<Void> emit(long offset, ByteBuf buf, int base, int from, int to, boolean zero)
            throws Exception {
        if (zero) {
            return dst.skipZeroes() ? CompletableFuture.completedFuture(null) : dst.zero(offset + from, to - from);
        }
        return write(offset + from, buf.retainedSlice(base + from, to - from));
    }

    private CompletableFuture<Void> write(long offset, ByteBuf data) {
        try {
            return dst.write(offset, data);
        } catch (Exception e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Zeroes to compare against; read-only, so shared by every thread. */
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();

    /**
     * Whether {@code length} bytes from {@code index} are all zero. Compares the buffer's NIO views with
     * {@link ByteBuffer#mismatch} (vectorised by the JVM) instead of calling {@code getLong} per 8 bytes through
     * the ByteBuf API, which costs a virtual call each, and with the leak detector at paranoid a recorded trace.
     */
    static boolean isZero(ByteBuf b, int index, int length) {
        for (ByteBuffer nio : b.nioBuffers(index, length)) {
            for (int at = nio.position(); at < nio.limit(); at += ZEROES.capacity()) {
                int n = Math.min(nio.limit() - at, ZEROES.capacity());
                if (nio.slice(at, n).mismatch(ZEROES.slice(0, n)) != -1) {
                    return false;
                }
            }
        }
        return true;
    }

    /** A one-line progress bar on stderr, redrawn at most ten times a second. */
    static final class Progress {
        private final PrintWriter err;
        private final long total;
        private final long start = System.nanoTime();
        private long lastDraw;

        Progress(PrintWriter err, long total) {
            this.err = err;
            this.total = total;
            draw(0);
        }

        void update(long done) {
            long now = System.nanoTime();
            if (now - lastDraw >= 100_000_000L) {
                lastDraw = now;
                draw(done);
            }
        }

        void finish(long done) {
            draw(done);
            err.print('\n');
            err.flush();
        }

        private void draw(long done) {
            double secs = Math.max(1e-9, (System.nanoTime() - start) / 1e9);
            String rate = String.format(Locale.ROOT, "%.1f MiB/s", done / secs / (1 << 20));
            String line;
            if (total > 0) {
                int pct = (int) Math.min(100, done * 100 / total);
                int filled = (int) Math.min(40, done * 40 / total);
                line = String.format(Locale.ROOT, "\r%3d%% [%s%s] %s", pct, "*".repeat(filled),
                        "-".repeat(40 - filled), rate);
            } else {
                line = "\r" + Sizes.human(done) + " copied, " + rate;
            }
            err.print(line);
            err.flush();
        }
    }
}
