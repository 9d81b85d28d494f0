package io.nbdnetty.examples.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * nbdinfo's and nbdcopy's {@code [ CMD ARGS ]}: a server run for the command's duration. libnbd hands the server a
 * listening socket by systemd socket activation, which the JVM cannot do (it cannot pass a descriptor to a child);
 * instead {@code socat} listens on a private Unix socket and runs the server for each connection with the connection
 * on its standard input and output. For {@code nbdkit}, {@code -s} (serve on stdin/stdout) is added when missing, so
 * the commands written for nbdinfo and nbdcopy work as they are. Each connection gets its own server process, so a
 * command server is used with one connection.
 */
final class CommandServer implements AutoCloseable {
    private final Path dir;
    private final Path socket;
    private final Process process;

    private CommandServer(Path dir, Process process) {
        this.dir = dir;
        this.socket = dir.resolve("s.sock");
        this.process = process;
    }

    /**
     * Whether the arguments from {@code index} on start with a {@code [ CMD ARGS ]} group.
     *
     * @param args the positional arguments
     * @param index where to look
     * @return true if there is a {@code [}
     */
    static boolean startsAt(List<String> args, int index) {
        return index < args.size() && args.get(index).equals("[");
    }

    /**
     * Returns the index just after the {@code ]} that closes the group starting at {@code index}.
     *
     * @param args the positional arguments
     * @param index the index of {@code [}
     * @return the index after {@code ]}
     * @throws IllegalArgumentException if there is no command or no {@code ]}
     */
    static int end(List<String> args, int index) {
        int close = args.subList(index, args.size()).indexOf("]");
        if (close < 0) {
            throw new IllegalArgumentException("'[' without a matching ']'");
        }
        if (close == 1) {
            throw new IllegalArgumentException("'[ ]' needs a command between the brackets");
        }
        return index + close + 1;
    }

    /**
     * Starts the command between {@code [} at {@code index} and its {@code ]}.
     *
     * @param args the positional arguments
     * @param index the index of {@code [}
     * @return the running server; its {@link #uri()} reaches it
     * @throws IOException if socat or the command cannot be started
     */
    static CommandServer start(List<String> args, int index) throws IOException {
        List<String> argv = new ArrayList<>(args.subList(index + 1, end(args, index) - 1));
        if (Path.of(argv.get(0)).getFileName().toString().equals("nbdkit") && !argv.contains("-s")
                && !argv.contains("--single")) {
            argv.add(1, "-s");
        }
        Path dir = Files.createTempDirectory("nbd-cli-cmd");
        Path script = dir.resolve("run");
        StringBuilder sb = new StringBuilder("#!/bin/sh\nexec");
        for (String a : argv) {
            sb.append(" '").append(a.replace("'", "'\\''")).append('\'');
        }
        Files.writeString(script, sb.append('\n').toString(), StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        Process p;
        try {
            p = new ProcessBuilder("socat", "UNIX-LISTEN:" + dir.resolve("s.sock") + ",fork", "EXEC:" + script
                    + ",nofork").redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(dir.resolve("stderr").toFile()).start();
        } catch (IOException e) {
            deleteTree(dir);
            throw new IOException("[ CMD ARGS ] needs socat on the PATH: " + e.getMessage(), e);
        }
        CommandServer s = new CommandServer(dir, p);
        s.awaitSocket();
        return s;
    }

    private void awaitSocket() throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(socket)) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                close();
                throw new IOException("the server command did not start");
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
                throw new IOException("interrupted while starting the server command", e);
            }
        }
    }

    /**
     * Returns a URI that reaches the server.
     *
     * @return {@code nbd+unix:///?socket=PATH}
     */
    String uri() {
        return "nbd+unix:///?socket=" + socket;
    }

    /** Stops socat and the servers it runs, and removes the socket. */
    @Override
    public void close() {
        process.descendants().forEach(ProcessHandle::destroy);
        process.destroy();
        try {
            if (!process.waitFor(2, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        deleteTree(dir);
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // Best effort: a temporary directory.
        }
    }
}
