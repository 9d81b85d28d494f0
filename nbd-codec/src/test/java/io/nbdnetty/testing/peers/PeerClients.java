package io.nbdnetty.testing.peers;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs reference NBD clients (libnbd's nbdinfo and nbdcopy, qemu-img, qemu-io) and returns what they printed.
 *
 * <p>Each call first checks the executable with {@link Interop#requireCommand(String)} (so a missing tool skips or
 * fails the test), runs it with stdin from /dev/null and a timeout ({@link #DEFAULT_TIMEOUT} unless given), and
 * returns a {@link Result} whatever the exit code; use {@link Result#assertSuccess()} when failure is not expected.
 */
public final class PeerClients {
    /** The timeout of the methods that take none. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    private PeerClients() {
    }

    /**
     * What a finished (or timed-out) command did.
     *
     * @param command the command line
     * @param exitCode its exit code, or -1 when it timed out and was killed
     * @param timedOut whether it ran past its timeout
     * @param stdout everything it wrote to stdout (UTF-8)
     * @param stderr everything it wrote to stderr (UTF-8)
     */
    public record Result(List<String> command, int exitCode, boolean timedOut, String stdout, String stderr) {
        /**
         * Fails with an {@link AssertionError} showing the command, exit code and stderr unless it exited with 0.
         *
         * @return this
         */
        public Result assertSuccess() {
            if (timedOut || exitCode != 0) {
                throw new AssertionError(this.toString());
            }
            return this;
        }

        /**
         * Finds the first {@code "key": NUMBER} in stdout: enough for nbdinfo's JSON without a JSON library.
         *
         * @param key a JSON key such as {@code "export-size"}
         * @return the number
         * @throws AssertionError if stdout has no such key with a number value
         */
        public long jsonNumber(String key) {
            Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*(-?\\d+)").matcher(stdout);
            if (!m.find()) {
                throw new AssertionError("no \"" + key + "\": NUMBER in the output of " + this);
            }
            return Long.parseLong(m.group(1));
        }

        @Override
        public String toString() {
            return String.join(" ", command) + (timedOut ? " timed out" : " exited with " + exitCode)
                    + "\n--- stdout:\n" + stdout + "\n--- stderr:\n" + stderr;
        }
    }

    /**
     * {@code nbdinfo --json URI}.
     *
     * @param uri an NBD URI, e.g. {@link PeerServer#uri()}
     * @return the result; stdout is the JSON document
     */
    public static Result nbdinfoJson(String uri) {
        return nbdinfo("--json", uri);
    }

    /**
     * {@code nbdinfo ARGS...}, e.g. {@code nbdinfo("--map", uri)} or {@code nbdinfo("--size", uri)}.
     *
     * @param args the arguments
     * @return the result
     */
    public static Result nbdinfo(String... args) {
        return run(DEFAULT_TIMEOUT, "nbdinfo", args);
    }

    /**
     * {@code nbdcopy ARGS...}, e.g. {@code nbdcopy(uri, "null:")}.
     *
     * @param args the arguments
     * @return the result
     */
    public static Result nbdcopy(String... args) {
        return run(DEFAULT_TIMEOUT, "nbdcopy", args);
    }

    /**
     * {@code qemu-img ARGS...}, e.g. {@code qemuImg("info", "--output=json", uri)}.
     *
     * @param args the arguments
     * @return the result
     */
    public static Result qemuImg(String... args) {
        return run(DEFAULT_TIMEOUT, "qemu-img", args);
    }

    /**
     * {@code qemu-io ARGS...}, e.g. {@code qemuIo("-f", "raw", "-c", "read -P 0xab 1M 64k", uri)}.
     *
     * @param args the arguments
     * @return the result
     */
    public static Result qemuIo(String... args) {
        return run(DEFAULT_TIMEOUT, "qemu-io", args);
    }

    /**
     * qemu 10's {@code qemu-img}, {@code qemu-io} or {@code qemu-nbd} (see {@link Interop#requireQemu10(String)}),
     * e.g. {@code qemu10("qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 1M", uri)}: the client side of extended
     * headers.
     *
     * @param tool the tool's name
     * @param args the arguments
     * @return the result
     */
    public static Result qemu10(String tool, String... args) {
        List<String> line = new ArrayList<>();
        line.add(Interop.requireQemu10(tool).toString());
        line.addAll(Arrays.asList(args));
        return runResolved(DEFAULT_TIMEOUT, line);
    }

    /**
     * Runs any command found on the search path (see {@link Interop}).
     *
     * @param timeout how long to wait before killing it (and its descendants)
     * @param command the bare command name, checked with {@link Interop#requireCommand(String)}
     * @param args its arguments
     * @return the result
     */
    public static Result run(Duration timeout, String command, String... args) {
        Path exe = Interop.requireCommand(command);
        List<String> line = new ArrayList<>();
        line.add(exe.toString());
        line.addAll(Arrays.asList(args));
        return runResolved(timeout, line);
    }

    static Result runResolved(Duration timeout, List<String> line) {
        Path out = null;
        Path err = null;
        try {
            out = Files.createTempFile("nbd-peer-out-", ".log");
            err = Files.createTempFile("nbd-peer-err-", ".log");
            Process p = new ProcessBuilder(line)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .start();
            boolean finished = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!finished) {
                Processes.terminate(p.toHandle(), 1000);
                p.waitFor();
            }
            return new Result(List.copyOf(line), finished ? p.exitValue() : -1, !finished,
                    Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + line, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + line, e);
        } finally {
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    private static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // a temp file left behind is harmless
            }
        }
    }
}
