package io.nbdnetty.examples.server;

import org.junit.jupiter.api.Assumptions;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs real NBD clients (libnbd tools, qemu, fio) for these tests. A missing tool skips the test, unless
 * {@code -Dnbd.interop=required}, which turns it into a failure. Private to the server tests.
 */
final class Peers {
    private Peers() {
    }

    /** Output of one run. */
    record Result(int exitCode, String stdout, String stderr) {
        String all() {
            return stdout + stderr;
        }
    }

    static boolean required() {
        return "required".equalsIgnoreCase(System.getProperty("nbd.interop", "auto"));
    }

    /** Skips (or, when required, fails) the test unless every tool is on the PATH. */
    static void need(String... tools) {
        for (String tool : tools) {
            if (find(tool) == null) {
                String message = tool + " is not installed (Debian: libnbd-bin, qemu-utils, fio); skipping. "
                        + "Run with -Dnbd.interop=required to make this a failure.";
                if (required()) {
                    throw new AssertionError(message);
                }
                Assumptions.abort(message);
            }
        }
    }

    /**
     * Returns the command that runs nbdsh ({@code python3 -m nbd}, which is what the nbdsh script runs) under a
     * Python that can import libnbd's module: the first python3 on the PATH may be another installation without it.
     * Skips or fails the test if there is none.
     */
    static List<String> nbdsh() throws IOException, InterruptedException {
        need("nbdsh");
        List<String> pythons = new java.util.ArrayList<>(List.of("/usr/bin/python3"));
        Path onPath = find("python3");
        if (onPath != null) {
            pythons.add(onPath.toString());
        }
        for (String python : pythons) {
            if (Files.isExecutable(Path.of(python)) && new ProcessBuilder(python, "-c", "import nbd")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start()
                    .waitFor() == 0) {
                return List.of(python, "-m", "nbd");
            }
        }
        String message = "no python3 can import nbd (Debian: python3-libnbd); skipping nbdsh. "
                + "Run with -Dnbd.interop=required to make this a failure.";
        if (required()) {
            throw new AssertionError(message);
        }
        Assumptions.abort(message);
        return null;
    }

    /** Joins a command prefix and arguments. */
    static String[] cmd(List<String> prefix, String... args) {
        List<String> all = new java.util.ArrayList<>(prefix);
        all.addAll(List.of(args));
        return all.toArray(new String[0]);
    }

    static Path find(String tool) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String dir : path.split(File.pathSeparator)) {
            Path p = Path.of(dir, tool);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    /** Runs a command with a timeout (then kills it and fails); output goes to files in {@code dir}. */
    static Result run(Path dir, int timeoutSeconds, String... command) throws IOException, InterruptedException {
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectOutput(out.toFile())
                .redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(String.join(" ", command) + " did not finish within " + timeoutSeconds
                    + " s; stderr: " + Files.readString(err, StandardCharsets.UTF_8));
        }
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    /** Runs a command and fails unless it exits 0. */
    static Result ok(Path dir, int timeoutSeconds, String... command) throws IOException, InterruptedException {
        Result r = run(dir, timeoutSeconds, command);
        if (r.exitCode() != 0) {
            throw new AssertionError(String.join(" ", command) + " exited " + r.exitCode() + "\nstdout: "
                    + r.stdout() + "\nstderr: " + r.stderr());
        }
        return r;
    }
}
