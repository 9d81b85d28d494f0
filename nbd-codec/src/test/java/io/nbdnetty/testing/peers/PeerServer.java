package io.nbdnetty.testing.peers;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A real NBD server (nbdkit, qemu-nbd, nbd-server) listening on a Unix socket in a fresh temporary directory, for
 * interop tests. Close it (try-with-resources) to stop the server and delete the directory.
 *
 * <pre>{@code
 * try (PeerServer server = PeerServer.nbdkit("memory", "size=64M").filter("delay", "rdelay=10ms").start()) {
 *     PeerClients.nbdinfoJson(server.uri()).assertSuccess();
 *     SocketChannel ch = UnixSockets.connect(server.socketPath());   // an already-connected socket
 * }
 * }</pre>
 *
 * <p>Starting checks the executables (and nbdkit plugins and filters) with {@link Interop}, so a missing peer skips
 * or fails the test as {@code -Dnbd.interop} says. A start returns once the server's pid is known and the socket is
 * listening, or throws {@link IllegalStateException} quoting the server's stderr, which is kept in
 * {@code stderr.log} in the directory. {@link #close()} signals the pid (read from the server's pid file, never found
 * by name) and its descendants with SIGTERM, then SIGKILL, waits until they are gone, and deletes the directory.
 * Servers still open when the JVM exits are closed by a shutdown hook.
 *
 * <p>Not thread-safe; close from one thread.
 */
public final class PeerServer implements AutoCloseable {
    /** How long a start may take before it fails. */
    public static final Duration DEFAULT_STARTUP_TIMEOUT = Duration.ofSeconds(20);
    /**
     * How long {@link #close()} waits after SIGTERM before SIGKILL. nbdkit ignores SIGTERM while a client is still
     * connected (it waits for the client), so closing a server before its clients costs this long.
     */
    private static final long TERMINATE_TIMEOUT_MILLIS = 2000;

    /** Where {@link #createQcow2WithDirtyBitmap} writes its data. */
    public static final long QCOW2_DIRTY_OFFSET = 1L << 20;
    /** How many bytes {@link #createQcow2WithDirtyBitmap} writes. */
    public static final int QCOW2_DIRTY_LENGTH = 64 << 10;
    /** The byte {@link #createQcow2WithDirtyBitmap} writes. */
    public static final int QCOW2_DIRTY_BYTE = 0xab;

    private static final Set<PeerServer> OPEN = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (PeerServer s : OPEN) {
                try {
                    s.close();
                } catch (RuntimeException e) {
                    System.err.println("could not stop " + s + ": " + e);
                }
            }
        }, "nbd-peer-server-reaper"));
    }

    private final String description;
    private final Path dir;
    private final Path socket;
    private final String exportName;
    private final ProcessHandle handle;
    /** The process we started, if it is {@link #handle} or its launcher; waited for to reap it. */
    private final Process launched;
    private boolean closed;

    private PeerServer(String description, Path dir, Path socket, String exportName, ProcessHandle handle,
            Process launched) {
        this.description = description;
        this.dir = dir;
        this.socket = socket;
        this.exportName = exportName;
        this.handle = handle;
        this.launched = launched;
    }

    // ---------------------------------------------------------------------------------------------- factories

    /**
     * An nbdkit server: {@code nbdkit -f --exit-with-parent -U SOCKET -P PIDFILE [options] [--filter=F]... PLUGIN
     * [ARGS...] [filter params...]}. Configure with the builder, then {@link NbdkitBuilder#start()}.
     *
     * @param pluginAndArgs the plugin name then its parameters, e.g. {@code "memory", "size=64M"}
     * @return a builder
     */
    public static NbdkitBuilder nbdkit(String... pluginAndArgs) {
        return new NbdkitBuilder(false, pluginAndArgs);
    }

    /**
     * nbdkit in single-connection mode on stdin/stdout ({@code nbdkit -s}), behind socat: every client that connects
     * to {@link #socketPath()} gets a fresh {@code nbdkit -s ...} whose stdin and stdout are the accepted socket
     * itself ({@code socat UNIX-LISTEN:SOCKET,fork EXEC:SCRIPT,nofork}). Exercises a server that was handed an
     * already-connected socket. Same options as {@link #nbdkit(String...)}; {@link #pid()} is socat's.
     *
     * @param pluginAndArgs the plugin name then its parameters
     * @return a builder
     */
    public static NbdkitBuilder nbdkitStdio(String... pluginAndArgs) {
        return new NbdkitBuilder(true, pluginAndArgs);
    }

    /**
     * qemu-nbd serving an image: {@code qemu-nbd -k SOCKET -x EXPORT -f FORMAT --persistent --fork --pid-file PIDFILE
     * [EXTRA...] IMAGE}. {@code --persistent} keeps it serving after the first client leaves. Useful extras:
     * {@code "-B", "b0"} (dirty bitmap context {@code qemu:dirty-bitmap:b0}), {@code "-A"}
     * ({@code qemu:allocation-depth}), {@code "-r"} (read-only), {@code "-e", "4"} (shared connections).
     *
     * @param image the image file; stays where it is after {@link #close()}
     * @param format {@code "qcow2"} or {@code "raw"}
     * @param exportName the export name
     * @param extraArgs more qemu-nbd options
     * @return the running server
     */
    public static PeerServer qemuNbd(Path image, String format, String exportName, String... extraArgs) {
        return qemuNbd(Interop.requireCommand("qemu-nbd"), image, format, exportName, extraArgs);
    }

    /**
     * qemu-nbd 10 (see {@link Interop#requireQemu10(String)}), started exactly as {@link #qemuNbd}: the one packaged
     * server here that negotiates extended headers ({@code NBD_OPT_EXTENDED_HEADERS}).
     *
     * @param image the image file; stays where it is after {@link #close()}
     * @param format {@code "qcow2"} or {@code "raw"}
     * @param exportName the export name
     * @param extraArgs more qemu-nbd options
     * @return the running server
     */
    public static PeerServer qemuNbd10(Path image, String format, String exportName, String... extraArgs) {
        return qemuNbd(Interop.requireQemu10("qemu-nbd"), image, format, exportName, extraArgs);
    }

    private static PeerServer qemuNbd(Path exe, Path image, String format, String exportName, String... extraArgs) {
        Path dir = newDir("qemu-nbd");
        Path socket = dir.resolve("q.sock");
        Path pidFile = dir.resolve("q.pid");
        List<String> cmd = new ArrayList<>(List.of(exe.toString(), "-k", socket.toString(), "-x", exportName,
                "-f", format, "--persistent", "--fork", "--pid-file", pidFile.toString()));
        cmd.addAll(Arrays.asList(extraArgs));
        cmd.add(image.toAbsolutePath().toString());
        return launch("qemu-nbd", dir, socket, pidFile, exportName, cmd, true, DEFAULT_STARTUP_TIMEOUT);
    }

    /**
     * nbd-server (the reference implementation) serving one file. Writes {@code ns.conf} in the directory with
     * {@code unixsock} and {@code allowlist = true} (so NBD_OPT_LIST works) and one export section, then runs
     * {@code nbd-server -C CONF -p PIDFILE}, which daemonizes. nbd-server speaks simple replies only. Note that
     * nbd-server 3.24 answers NBD_OPT_INFO with size 0 (the size comes right with NBD_OPT_GO), so
     * {@code nbdinfo --json} shows {@code "export-size": 0}; {@code nbdinfo --size} is right.
     *
     * @param imageFile a raw image file; stays where it is after {@link #close()}
     * @param exportName the export name (a config section name: not empty, no {@code ]})
     * @param extraExportLines more {@code key = value} lines for the export section, e.g. {@code "readonly = true"}
     * @return the running server
     */
    public static PeerServer nbdServer(Path imageFile, String exportName, String... extraExportLines) {
        if (exportName.isEmpty() || exportName.contains("]") || exportName.equals("generic")) {
            throw new IllegalArgumentException("nbd-server export name must be a config section name: '"
                    + exportName + "'");
        }
        Path exe = Interop.requireCommand("nbd-server");
        Path dir = newDir("nbd-server");
        Path socket = dir.resolve("ns.sock");
        Path pidFile = dir.resolve("ns.pid");
        Path conf = dir.resolve("ns.conf");
        StringBuilder c = new StringBuilder()
                .append("[generic]\n")
                .append("unixsock = ").append(socket).append('\n')
                .append("allowlist = true\n")
                .append('[').append(exportName).append("]\n")
                .append("exportname = ").append(imageFile.toAbsolutePath()).append('\n');
        for (String line : extraExportLines) {
            c.append(line).append('\n');
        }
        write(conf, c.toString());
        List<String> cmd = List.of(exe.toString(), "-C", conf.toString(), "-p", pidFile.toString());
        return launch("nbd-server", dir, socket, pidFile, exportName, cmd, true, DEFAULT_STARTUP_TIMEOUT);
    }

    /**
     * Creates a qcow2 image with a persistent dirty bitmap and {@link #QCOW2_DIRTY_LENGTH} bytes of
     * {@link #QCOW2_DIRTY_BYTE} written at {@link #QCOW2_DIRTY_OFFSET} (so that range is allocated and dirty, the
     * rest a hole and clean): {@code qemu-img create -f qcow2 IMAGE SIZE; qemu-img bitmap --add IMAGE BITMAP;
     * qemu-io -f qcow2 -c 'write -P 0xab 1M 64k' IMAGE}. Serve it with
     * {@code qemuNbd(image, "qcow2", "disk", "-B", bitmap, "-A")}.
     *
     * @param image the file to create (e.g. in a JUnit {@code @TempDir})
     * @param size the virtual size in bytes, at least 1 MiB + 64 KiB
     * @param bitmap the bitmap name, e.g. {@code "b0"}
     * @return {@code image}
     */
    public static Path createQcow2WithDirtyBitmap(Path image, long size, String bitmap) {
        if (size < QCOW2_DIRTY_OFFSET + QCOW2_DIRTY_LENGTH) {
            throw new IllegalArgumentException("size must be at least 1M+64k: " + size);
        }
        String file = image.toAbsolutePath().toString();
        PeerClients.qemuImg("create", "-q", "-f", "qcow2", file, Long.toString(size)).assertSuccess();
        PeerClients.qemuImg("bitmap", "--add", file, bitmap).assertSuccess();
        PeerClients.qemuIo("-f", "qcow2", "-c", String.format("write -P 0x%x %d %d", QCOW2_DIRTY_BYTE,
                QCOW2_DIRTY_OFFSET, QCOW2_DIRTY_LENGTH), file).assertSuccess();
        return image;
    }

    // ---------------------------------------------------------------------------------------------- accessors

    /**
     * The Unix socket the server listens on.
     *
     * @return an absolute path
     */
    public Path socketPath() {
        return socket;
    }

    /**
     * The export name clients should ask for ({@code ""} unless set).
     *
     * @return the export name
     */
    public String exportName() {
        return exportName;
    }

    /**
     * An NBD URI for the server: {@code nbd+unix:///EXPORT?socket=PATH}.
     *
     * @return the URI, with the export name and path percent-encoded
     */
    public String uri() {
        return uri(exportName);
    }

    /**
     * An NBD URI for another export of the same server.
     *
     * @param export the export name
     * @return {@code nbd+unix:///EXPORT?socket=PATH}
     */
    public String uri(String export) {
        return "nbd+unix:///" + Processes.uriEncode(export) + "?socket=" + Processes.uriEncode(socket.toString());
    }

    /**
     * The server's pid (for nbdkitStdio: socat's).
     *
     * @return the pid
     */
    public long pid() {
        return handle.pid();
    }

    /**
     * The temporary directory holding the socket, pid file, logs and config; deleted by {@link #close()}.
     *
     * @return the directory
     */
    public Path directory() {
        return dir;
    }

    /**
     * What the server wrote to stderr so far.
     *
     * @return the log's tail
     */
    public String stderr() {
        return Processes.tail(dir.resolve("stderr.log"));
    }

    /**
     * Stops the server and its children (SIGTERM, then SIGKILL after 2 s), waits until they are gone and deletes the
     * directory. Idempotent. Close clients first: nbdkit waits for connected clients before it obeys SIGTERM.
     *
     * @throws IllegalStateException if a process survived SIGKILL
     * @throws UncheckedIOException if the directory cannot be deleted
     */
    @Override
    public void close() {
        stop(TERMINATE_TIMEOUT_MILLIS);
    }

    /**
     * Crashes the server: SIGKILLs it and its children at once (connected clients see the connection drop
     * without a reply), then cleans up like {@link #close()}. Idempotent, and a no-op after {@link #close()}.
     */
    public void kill() {
        stop(0);
    }

    private void stop(long graceMillis) {
        if (closed) {
            return;
        }
        closed = true;
        OPEN.remove(this);
        try {
            Optional<String> survivors = Processes.terminate(handle, graceMillis);
            if (launched != null) {
                launched.waitFor(TERMINATE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
            }
            Processes.deleteRecursively(dir);
            if (!socket.startsWith(dir)) {
                // A socket path chosen with NbdkitBuilder.socketPath: not in the directory, so removed on its own.
                Files.deleteIfExists(socket);
            }
            if (survivors.isPresent()) {
                throw new IllegalStateException(this + ": processes " + survivors.get() + " survived SIGKILL");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while stopping " + this, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir, e);
        }
    }

    @Override
    public String toString() {
        return description + " (pid " + handle.pid() + ", " + uri() + ")";
    }

    // ---------------------------------------------------------------------------------------------- nbdkit

    /** Options for {@link #nbdkit(String...)} and {@link #nbdkitStdio(String...)}. Single use. */
    public static final class NbdkitBuilder {
        private final boolean stdio;
        private final List<String> pluginAndArgs;
        private final List<String> filters = new ArrayList<>();
        private final List<String> filterParams = new ArrayList<>();
        private final List<String> options = new ArrayList<>();
        private String exportName = "";
        private Duration startupTimeout = DEFAULT_STARTUP_TIMEOUT;
        private Path socketPath;

        private NbdkitBuilder(boolean stdio, String... pluginAndArgs) {
            if (pluginAndArgs.length == 0) {
                throw new IllegalArgumentException("need a plugin name");
            }
            this.stdio = stdio;
            this.pluginAndArgs = List.of(pluginAndArgs);
        }

        /**
         * Adds {@code --filter=NAME}; filters stack in the order added (the first is nearest the client). Its
         * parameters go after the plugin's, e.g. {@code filter("error", "error-rate=10%", "error=EIO")}.
         *
         * @param name the filter, e.g. {@code "error"}, {@code "delay"}, {@code "blocksize"}, {@code "exportname"}
         * @param params its parameters
         * @return this
         */
        public NbdkitBuilder filter(String name, String... params) {
            filters.add(name);
            filterParams.addAll(Arrays.asList(params));
            return this;
        }

        /**
         * {@code -r}: the export is read-only.
         *
         * @return this
         */
        public NbdkitBuilder readOnly() {
            return args("-r");
        }

        /**
         * {@code --oldstyle}: the oldstyle handshake (no options).
         *
         * @return this
         */
        public NbdkitBuilder oldstyle() {
            return args("--oldstyle");
        }

        /**
         * {@code --no-sr}: no structured replies.
         *
         * @return this
         */
        public NbdkitBuilder noStructuredReplies() {
            return args("--no-sr");
        }

        /**
         * The export name put in {@link PeerServer#uri()} and returned by {@link PeerServer#exportName()}. nbdkit
         * itself accepts any name unless the {@code exportname} filter restricts them, e.g.
         * {@code filter("exportname", "exportname=a", "exportname=b", "exportname-list=explicit")}.
         *
         * @param name the export name
         * @return this
         */
        public NbdkitBuilder exportName(String name) {
            this.exportName = name;
            return this;
        }

        /**
         * More nbdkit options, placed before the filters and plugin, e.g. {@code "--threads=4"}, {@code "-v"}.
         *
         * @param args the options
         * @return this
         */
        public NbdkitBuilder args(String... args) {
            options.addAll(Arrays.asList(args));
            return this;
        }

        /**
         * Listens on this socket path instead of one in the server's own temporary directory, so that a test can
         * start a new server where a killed one listened (clients reconnecting to the same address). A file already
         * there (a stale socket left by a killed server) is deleted before the start, and the socket file is
         * deleted again when the server is stopped. Not for {@link PeerServer#nbdkitStdio}.
         *
         * @param socket the socket path (at most 107 bytes)
         * @return this
         */
        public NbdkitBuilder socketPath(Path socket) {
            if (stdio) {
                throw new IllegalStateException("socketPath is not supported with nbdkitStdio");
            }
            this.socketPath = socket.toAbsolutePath().normalize();
            return this;
        }

        /**
         * How long {@link #start()} waits for the socket.
         *
         * @param timeout the timeout; {@link PeerServer#DEFAULT_STARTUP_TIMEOUT} unless set
         * @return this
         */
        public NbdkitBuilder startupTimeout(Duration timeout) {
            this.startupTimeout = timeout;
            return this;
        }

        /**
         * Checks nbdkit, the plugin and the filters with {@link Interop}, then starts the server.
         *
         * @return the running server, listening
         */
        public PeerServer start() {
            Path nbdkit = Interop.requireCommand("nbdkit");
            Interop.requireNbdkitPlugin(pluginAndArgs.get(0));
            filters.forEach(Interop::requireNbdkitFilter);
            Path socat = stdio ? Interop.requireCommand("socat") : null;

            List<String> tail = new ArrayList<>(options);
            filters.forEach(f -> tail.add("--filter=" + f));
            tail.addAll(pluginAndArgs);
            tail.addAll(filterParams);

            String kind = stdio ? "nbdkit-stdio" : "nbdkit";
            Path dir = newDir(kind);
            Path socket = socketPath != null ? socketPath : dir.resolve("s.sock");
            if (socketPath != null) {
                try {
                    Files.deleteIfExists(socketPath);
                } catch (IOException e) {
                    deleteQuietly(dir);
                    throw new UncheckedIOException("cannot remove the stale socket " + socketPath, e);
                }
            }
            if (!stdio) {
                Path pidFile = dir.resolve("s.pid");
                List<String> cmd = new ArrayList<>(List.of(nbdkit.toString(), "-f", "--exit-with-parent",
                        "-U", socket.toString(), "-P", pidFile.toString()));
                cmd.addAll(tail);
                return launch(kind, dir, socket, pidFile, exportName, cmd, false, startupTimeout);
            }
            // socat's EXEC splits on spaces and treats ',' ':' specially: a script sidesteps all quoting. With
            // nofork socat's per-connection child execs the script, so nbdkit's stdin/stdout is the accepted socket.
            // --exit-with-parent: nbdkit -s dies with socat's listener if the client never hangs up.
            StringBuilder script = new StringBuilder("#!/bin/sh\nexec ").append(Processes.shellQuote(
                    nbdkit.toString())).append(" -s --exit-with-parent");
            tail.forEach(a -> script.append(' ').append(Processes.shellQuote(a)));
            script.append('\n');
            Path run = dir.resolve("nbdkit-s.sh");
            write(run, script.toString());
            try {
                Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwx------"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            List<String> cmd = List.of(socat.toString(), "UNIX-LISTEN:" + socket + ",fork,unlink-early",
                    "EXEC:" + run + ",nofork");
            return launch(kind, dir, socket, null, exportName, cmd, false, startupTimeout);
        }
    }

    // ---------------------------------------------------------------------------------------------- launching

    private static Path newDir(String kind) {
        // sun_path holds 108 bytes: keep the directory short even when java.io.tmpdir is long.
        Path base = Path.of(System.getProperty("java.io.tmpdir"));
        if (base.toAbsolutePath().toString().length() > 60) {
            base = Path.of("/tmp");
        }
        try {
            return Files.createTempDirectory(base, "nbd-" + kind + "-").toAbsolutePath().normalize();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temp dir in " + base, e);
        }
    }

    private static void write(Path file, String content) {
        try {
            Files.writeString(file, content, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Starts {@code cmd} and waits until the server's pid is known and {@code socket} listens.
     *
     * @param pidFile where the server writes its pid, or null to use the started process's pid
     * @param daemonizes whether the started process exits (with 0) once the real server runs
     */
    private static PeerServer launch(String kind, Path dir, Path socket, Path pidFile, String exportName,
            List<String> cmd, boolean daemonizes, Duration timeout) {
        String description = kind + " " + String.join(" ", cmd.subList(1, cmd.size()));
        Path stderr = dir.resolve("stderr.log");
        Process process;
        try {
            process = new ProcessBuilder(cmd)
                    .directory(dir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(dir.resolve("stdout.log").toFile())
                    .redirectError(stderr.toFile())
                    .start();
        } catch (IOException e) {
            deleteQuietly(dir);
            throw new UncheckedIOException("cannot start " + description, e);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        String problem = null;
        ProcessHandle server = null;
        try {
            while (true) {
                if (!process.isAlive() && (!daemonizes || process.exitValue() != 0)) {
                    problem = "exited with code " + process.exitValue() + " before listening";
                    break;
                }
                Optional<Long> pid = pidFile == null ? Optional.of(process.pid()) : Processes.readPidFile(pidFile);
                if (pid.isPresent() && listening(socket)) {
                    server = ProcessHandle.of(pid.get()).orElse(null);
                    if (server == null || Processes.isGone(server)) {
                        problem = "pid " + pid.get() + " from its pid file is not running";
                        server = null;
                    }
                    break;
                }
                if (System.nanoTime() - deadline > 0) {
                    problem = "was not listening on " + socket + " after " + timeout.toMillis() + " ms";
                    break;
                }
                Thread.sleep(5);
            }
            if (server != null && daemonizes && !process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                problem = "launcher did not exit after the server started";
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            problem = "interrupted while waiting for it to start";
        }
        if (problem != null) {
            String log = Processes.tail(stderr);
            try {
                Processes.terminate(process.toHandle(), 1000);
                if (server != null) {
                    Processes.terminate(server, 1000);
                } else if (pidFile != null) {
                    Optional<ProcessHandle> p = Processes.readPidFile(pidFile).flatMap(ProcessHandle::of);
                    if (p.isPresent()) {
                        Processes.terminate(p.get(), 1000);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            deleteQuietly(dir);
            throw new IllegalStateException(description + " " + problem + "; its stderr:\n" + log);
        }
        PeerServer s = new PeerServer(description, dir, socket, exportName, server, process);
        OPEN.add(s);
        return s;
    }

    private static boolean listening(Path socket) {
        if (!Files.exists(socket)) {
            return false;
        }
        Optional<Boolean> procAnswer = Processes.isListening(socket);
        if (procAnswer.isPresent()) {
            return procAnswer.get();
        }
        try {
            UnixSockets.connect(socket).close();
            return true;
        } catch (IOException | UncheckedIOException e) {
            return false;
        }
    }

    private static void deleteQuietly(Path dir) {
        try {
            Processes.deleteRecursively(dir);
        } catch (IOException ignored) {
            // best effort while already failing
        }
    }
}
