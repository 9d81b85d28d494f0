package io.nbdnetty.examples.cli;

import picocli.CommandLine;

import java.io.File;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs {@code nbd ...} in this JVM (output captured) or in a child JVM (for stdin/stdout data). */
public final class CliRun {
    private CliRun() {
    }

    /** Exit code and captured output. */
    public record Run(int code, String out, String err) {
        public Run ok() {
            if (code != 0) {
                throw new AssertionError("exit " + code + "\nstdout: " + out + "\nstderr: " + err);
            }
            return this;
        }
    }

    public static Run nbd(String... args) {
        CommandLine cmd = NbdCli.commandLine(NbdCli.subcommandIn(args)); // as NbdCli.run builds it
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cmd.setOut(new PrintWriter(out));
        cmd.setErr(new PrintWriter(err));
        int code = cmd.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    /** Runs nbd in a child JVM with stdin and stdout redirected to files (null: /dev/null and a temp file). */
    public static int child(Path stdin, Path stdout, Path stderr, String... args) throws Exception {
        // On the class path (not nbd.jar, whose manifest does it), native access for Netty's transports is asked for
        // as docs/embedding.md tells applications to: without it JDK 22+ warns on stderr. JDK 17 takes the flag too.
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                NbdCli.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd)
                .redirectInput(stdin != null ? stdin.toFile() : new File("/dev/null"))
                .redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("nbd " + args[0] + " did not finish; stderr: "
                    + Files.readString(stderr, StandardCharsets.UTF_8));
        }
        return p.exitValue();
    }

    /** Allocated 512-byte blocks of a file ({@code stat -c %b}). */
    public static long allocatedBlocks(Path file) throws Exception {
        Process p = new ProcessBuilder("stat", "-c", "%b", file.toString()).redirectErrorStream(true).start();
        String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        p.waitFor();
        return Long.parseLong(s);
    }
}
