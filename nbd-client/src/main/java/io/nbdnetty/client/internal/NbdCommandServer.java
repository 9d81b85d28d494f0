package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdErrors;
import io.nbdnetty.client.NbdHandle;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A server run as a subprocess that speaks NBD on its standard input and output (for example {@code nbdkit -s
 * memory 1G}), reachable through a private Unix socket: each connection to {@link #uri()} runs the command once
 * more, with that connection as its stdin/stdout. {@link NbdHandle#connectCommand} uses one for its single
 * connection; the CLI uses one for nbdinfo's and nbdcopy's {@code [ CMD ARGS ]}.
 *
 * <p>Why socat (which must be on the PATH): the JDK can neither create a socketpair nor pass a descriptor to a child,
 * and libnbd's alternative, systemd socket activation, needs a listening descriptor handed to the child as well.
 * socat listens, and for each connection forks and then executes the command (no shell splits the arguments).
 *
 * <p>Thread-safe. {@link #close()} ends socat and every server it started, and removes the socket.
 */
public final class NbdCommandServer implements AutoCloseable {
    private final Path dir;
    private final Path socket;
    private final Process process;
    private final Path stderr;

    private NbdCommandServer(Path dir, Process process) {
        this.dir = dir;
        this.socket = dir.resolve("s.sock");
        this.process = process;
        this.stderr = dir.resolve("stderr");
    }

    /**
     * Starts socat listening for the command. Returns at once; {@link #ready(Duration)} says when it listens.
     *
     * @param argv the command and its arguments
     * @return the server
     * @throws IOException if the command's program cannot be found or run ({@code "nosuchcmd: No such file or
     *     directory"}), or socat cannot be started (it is not installed, say)
     */
    public static NbdCommandServer start(List<String> argv) throws IOException {
        List<String> command = List.copyOf(argv);
        if (command.isEmpty()) {
            throw new IllegalArgumentException("argv must not be empty");
        }
        checkProgram(command.get(0));
        Path dir = Files.createTempDirectory("nbd-netty-cmd");
        Path script = dir.resolve("run");
        StringBuilder sb = new StringBuilder("#!/bin/sh\nexec");
        for (String a : command) {
            sb.append(" '").append(a.replace("'", "'\\''")).append('\'');
        }
        sb.append('\n');
        Files.writeString(script, sb.toString(), StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        ProcessBuilder pb = new ProcessBuilder("socat", "UNIX-LISTEN:" + dir.resolve("s.sock") + ",fork",
                "EXEC:" + script + ",nofork");
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(dir.resolve("stderr").toFile());
        try {
            return new NbdCommandServer(dir, pb.start());
        } catch (IOException e) {
            deleteTree(dir);
            throw new IOException("socat is needed to run a server as a subprocess, and it could not be started ("
                    + NbdErrors.inWords(e) + ")", e);
        }
    }

    /**
     * Fails as the shell would if a program cannot be run: {@code "nosuchcmd: No such file or directory"}, or
     * {@code "Permission denied"} for a file that is not executable. A name without a slash is looked up on the
     * PATH. Checked before socat starts, which would otherwise only fail once a connection arrives (and the server
     * would appear to close the connection during the handshake).
     */
    private static void checkProgram(String program) throws IOException {
        if (program.contains("/")) {
            Path p = Path.of(program);
            if (!Files.exists(p)) {
                throw new IOException(program + ": No such file or directory");
            }
            if (Files.isDirectory(p)) {
                throw new IOException(program + ": Is a directory");
            }
            if (!Files.isExecutable(p)) {
                throw new IOException(program + ": Permission denied");
            }
            return;
        }
        String path = System.getenv("PATH");
        boolean denied = false;
        for (String d : (path == null ? "/usr/bin:/bin" : path).split(":")) {
            Path p = Path.of(d.isEmpty() ? "." : d, program);
            if (Files.isRegularFile(p)) {
                if (Files.isExecutable(p)) {
                    return;
                }
                denied = true;
            }
        }
        throw new IOException(program + ": " + (denied ? "Permission denied" : "No such file or directory"));
    }

    /**
     * Whether a Unix socket listens at the path. socat binds (which makes the file) before it listens, and a connect
     * in between is refused: on Linux, {@code /proc/net/unix} says whether the socket accepts connections (flag
     * {@code __SO_ACCEPTCON}, 0x10000); elsewhere the file's existence is all there is to go by.
     */
    static boolean listening(Path socket) throws IOException {
        if (!Files.exists(socket)) {
            return false;
        }
        Path table = Path.of("/proc/net/unix");
        if (!Files.isReadable(table)) {
            return true;
        }
        String path = socket.toAbsolutePath().toString();
        // Num RefCount Protocol Flags Type St Inode Path
        for (String line : Files.readAllLines(table, StandardCharsets.UTF_8)) {
            String[] f = line.trim().split("\\s+", 8);
            if (f.length == 8 && f[7].equals(path)) {
                try {
                    if ((Long.parseLong(f[3], 16) & 0x10000) != 0) {
                        return true;
                    }
                } catch (NumberFormatException e) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Completes with the socket's path once socat listens; fails if it exits first or the time runs out. Waits on a
     * short-lived thread of its own, which ends when the future completes.
     *
     * @param timeout how long to wait ({@link Duration#ZERO}: 30 seconds)
     * @return the future
     */
    public CompletableFuture<Path> ready(Duration timeout) {
        CompletableFuture<Path> ready = new CompletableFuture<>();
        long deadline = System.nanoTime() + (timeout.isZero() ? TimeUnit.SECONDS.toNanos(30) : timeout.toNanos());
        Thread waiter = new Thread(() -> {
            try {
                while (!listening(socket)) {
                    if (!process.isAlive()) {
                        throw new IOException("the subprocess exited with status " + process.exitValue()
                                + " before listening: " + stderrText());
                    }
                    if (System.nanoTime() > deadline) {
                        throw new IOException("the subprocess did not start listening in time");
                    }
                    Thread.sleep(5);
                }
                ready.complete(socket);
            } catch (IOException | InterruptedException e) {
                ready.completeExceptionally(e);
            }
        }, "nbd-netty-subprocess");
        waiter.setDaemon(true);
        waiter.start();
        return ready;
    }

    /**
     * Returns the Unix socket that reaches the server.
     *
     * @return the socket's path
     */
    public Path socket() {
        return socket;
    }

    /**
     * Returns an NBD URI that reaches the server.
     *
     * @return {@code nbd+unix:///?socket=PATH}
     */
    public String uri() {
        return "nbd+unix:///?socket=" + socket;
    }

    private String stderrText() {
        try {
            return Files.readString(stderr).strip();
        } catch (IOException e) {
            return "";
        }
    }

    /** Ends socat and every server it started (SIGTERM, then SIGKILL after 2 seconds) and removes the socket. */
    @Override
    public void close() {
        process.descendants().forEach(ProcessHandle::destroy);
        process.destroy();
        process.onExit().orTimeout(2, TimeUnit.SECONDS).whenComplete((p, e) -> {
            if (e != null) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            }
            deleteTree(dir);
        });
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // Best effort: a temporary directory.
        }
    }
}
