package io.nbdnetty.client;

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
 * A server run as a subprocess with a socket on its standard input and output, made by socat (the JDK cannot create
 * a socketpair or pass a descriptor to a child): socat listens on a private Unix socket and, on the one connection,
 * executes the command (without forking) with that connection as stdin/stdout.
 */
final class Subprocess implements AutoCloseable {
    private final Path dir;
    private final Path socket;
    private final Process process;
    private final Path stderr;

    private Subprocess(Path dir, Process process) {
        this.dir = dir;
        this.socket = dir.resolve("s.sock");
        this.process = process;
        this.stderr = dir.resolve("stderr");
    }

    static Subprocess start(List<String> argv) throws IOException {
        Path dir = Files.createTempDirectory("nbd-netty-cmd");
        Path script = dir.resolve("run");
        StringBuilder sb = new StringBuilder("#!/bin/sh\nexec");
        for (String a : argv) {
            sb.append(" '").append(a.replace("'", "'\\''")).append('\'');
        }
        sb.append('\n');
        Files.writeString(script, sb.toString(), StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        ProcessBuilder pb = new ProcessBuilder("socat", "UNIX-LISTEN:" + dir.resolve("s.sock"),
                "EXEC:" + script + ",nofork");
        pb.redirectErrorStream(false).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(dir.resolve("stderr").toFile());
        try {
            return new Subprocess(dir, pb.start());
        } catch (IOException e) {
            deleteTree(dir);
            throw new IOException("socat is needed to run a server as a subprocess, and it could not be started ("
                    + e.getMessage() + ")", e);
        }
    }

    /**
     * Completes with the socket's path once it exists; fails if the process exits first or time runs out. Waits on a
     * short-lived thread of its own, which ends as soon as the future completes.
     */
    CompletableFuture<Path> socketReady(Duration timeout) {
        CompletableFuture<Path> ready = new CompletableFuture<>();
        long deadline = System.nanoTime() + (timeout.isZero() ? TimeUnit.SECONDS.toNanos(30) : timeout.toNanos());
        Thread waiter = new Thread(() -> {
            try {
                while (!Files.exists(socket)) {
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

    private String stderrText() {
        try {
            return Files.readString(stderr).strip();
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public void close() {
        process.destroy();
        process.onExit().orTimeout(2, TimeUnit.SECONDS).whenComplete((p, e) -> {
            if (e != null) {
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
