package io.nbdnetty.examples.cli;

import io.nbdnetty.testing.peers.Interop;
import io.nbdnetty.testing.peers.PeerServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The packaged CLI as a user runs it: {@code bin/nbd} (with its class-data archive) and {@code java -jar nbd.jar},
 * on the JDK that runs this test ({@code .ci/run} runs the suite on Java 17 and again on Java 25), against nbdkit and
 * nbdinfo. Nothing the JVM or Netty prints as a warning may appear: no {@code WARNING:} line (native access on JDK
 * 22+, {@code sun.misc.Unsafe} on 24+) and no {@code VM warning} (class-data sharing). A failsafe test: it needs
 * {@code target/nbd.jar}, made in the package phase.
 */
class PackagedCliIT {
    private static final Path ROOT = root();
    private static final Path JAR = ROOT.resolve("nbd-examples/target/nbd.jar");
    private static final Path LAUNCHER = ROOT.resolve("bin/nbd");
    private static final Path THIS_JDK = Path.of(System.getProperty("java.home"));

    @TempDir
    Path dir;

    @Test
    void demoThroughTheLauncherAndJavaJar() throws Exception {
        // The first run after a build may make this JDK's class-data archive; the second maps it.
        for (int i = 0; i < 2; i++) {
            Result r = run(THIS_JDK, Map.of(), LAUNCHER.toString(), "demo");
            assertClean(r);
            assertTrue(r.out().contains("demo: OK"), r.toString());
        }
        // README's first command, which sets no JVM option: the jar's manifest enables native access.
        Result r = run(THIS_JDK, Map.of(), java(THIS_JDK), "-jar", JAR.toString(), "demo");
        assertClean(r);
        assertTrue(r.out().contains("demo: OK"), r.toString());
    }

    /**
     * What docs/embedding.md asks of an application on the class path: on JDK 24+ the JVM warns when Netty loads its
     * native transport, unless it runs with {@code --enable-native-access=ALL-UNNAMED}, which JDK 17 accepts too.
     */
    @Test
    void onTheClassPathNativeAccessIsTheApplicationsFlag() throws Exception {
        String main = NbdCli.class.getName();
        Result without = run(THIS_JDK, Map.of(), java(THIS_JDK), "-cp", JAR.toString(), main, "demo");
        assertEquals(0, without.code(), without.toString());
        if (Runtime.version().feature() >= 24) {
            assertTrue(without.err().lines().anyMatch(l -> l.startsWith("WARNING: Use --enable-native-access="
                    + "ALL-UNNAMED")), "expected the JVM's native access warning: " + without);
        } else {
            assertClean(without);
        }
        Result with = run(THIS_JDK, Map.of(), java(THIS_JDK), "--enable-native-access=ALL-UNNAMED", "-cp",
                JAR.toString(), main, "demo");
        assertClean(with);
        assertTrue(with.out().contains("demo: OK"), with.toString());
    }

    @Test
    void clientCommandsAgainstNbdkit() throws Exception {
        try (PeerServer nbdkit = PeerServer.nbdkit("memory", "size=64M").start()) {
            Result info = run(THIS_JDK, Map.of(), LAUNCHER.toString(), "info", nbdkit.uri());
            assertClean(info);
            assertTrue(info.out().contains("67108864"), info.toString());
            assertClean(run(THIS_JDK, Map.of(), LAUNCHER.toString(), "copy", nbdkit.uri(), "null:"));
            // epoll and io_uring each load a native library of Netty's; nio none.
            for (String transport : List.of("epoll", "io_uring", "nio")) {
                Result bench = run(THIS_JDK, Map.of(), java(THIS_JDK), "-jar", JAR.toString(), "bench",
                        "--transport", transport, "--size", "8M", "--json", nbdkit.uri());
                assertClean(bench);
                assertTrue(bench.out().contains("\"iops\""), bench.toString());
            }
        }
    }

    /** BoringSSL (netty-tcnative, shipped in nbd.jar) and the JDK's engine, through bin/nbd and java -jar. */
    @Test
    void tlsWithEitherEngineAgainstNbdkit() throws Exception {
        Path certs = Files.createDirectory(dir.resolve("certs"));
        io.nbdnetty.testing.peers.TlsCertificates.create(certs);
        try (PeerServer nbdkit = PeerServer.nbdkit("pattern", "size=8M").readOnly()
                .args("--tls=require", "--tls-certificates=" + certs).start()) {
            String uri = "nbds+unix:///?socket=" + nbdkit.socketPath() + "&tls-certificates=" + certs;
            Result info = run(THIS_JDK, Map.of(), LAUNCHER.toString(), "info", uri);
            assertClean(info);
            assertTrue(info.out().startsWith("protocol: newstyle-fixed with TLS"), info.toString());
            for (String engine : List.of("openssl", "jdk")) {
                Result bench = run(THIS_JDK, Map.of(), java(THIS_JDK), "-jar", JAR.toString(), "bench",
                        "--tls-engine", engine, "--rw", "read", "--bs", "256K", "--size", "8M", "--json", uri);
                assertClean(bench);
                assertTrue(bench.out().contains("\"tls_engine\" : \"" + engine + "\""), bench.toString());
            }
        }
    }

    @Test
    void serveAnsweringNbdinfo() throws Exception {
        Path nbdinfo = Interop.requireCommand("nbdinfo");
        Path socket = dir.resolve("s.sock");
        Path out = dir.resolve("serve-out.txt");
        Path err = dir.resolve("serve-err.txt");
        Process serve = start(THIS_JDK, out, err, LAUNCHER.toString(), "serve", "--unix", socket.toString(),
                "--size", "2M", "--export", "disk");
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!Files.readString(out).contains("\n") && serve.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(Files.readString(out).startsWith("serving export \"disk\""),
                    "nbd serve: " + Files.readString(out) + Files.readString(err));
            Result info = run(THIS_JDK, Map.of(), nbdinfo.toString(), "--size",
                    "nbd+unix:///disk?socket=" + socket);
            assertEquals("2097152", info.out().trim(), info.toString());
            serve.destroy();
            assertTrue(serve.waitFor(30, TimeUnit.SECONDS), "nbd serve did not stop on SIGTERM");
        } finally {
            serve.destroyForcibly();
        }
        assertClean(new Result(serve.exitValue() == 143 ? 0 : serve.exitValue(), Files.readString(out),
                Files.readString(err)));
    }

    /**
     * A class-data archive only fits the JVM that dumped it: bin/nbd keeps one per JDK, so two JDKs can take turns
     * and each maps its own (the CLI's classes come from the "shared objects file"), none of them made again.
     */
    @Test
    void eachJdkMapsItsOwnArchive() throws Exception {
        Optional<Path> other = otherJdk();
        assumeTrue(other.isPresent(), "only one JDK under /usr/lib/jvm");
        List<Path> jdks = List.of(THIS_JDK, other.get(), THIS_JDK);
        for (Path jdk : jdks) {
            Result r = run(jdk, Map.of(), LAUNCHER.toString(), "demo");
            assertClean(r);
            assertTrue(r.out().contains("demo: OK"), jdk + ": " + r);
        }
        Map<Path, FileTime> archives = archivesOfThisJar();
        assertTrue(archives.size() >= 2, "one archive per JDK: " + archives.keySet());
        // Default options plus class loading on stdout.
        Map<String, String> logClasses = Map.of("NBD_JAVA_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseParallelGC "
                + "-Dio.netty.leakDetection.level=disabled -Dio.netty.jfr.enabled=false -Xlog:class+load=info");
        for (Path jdk : jdks) {
            Result r = run(jdk, logClasses, LAUNCHER.toString(), "--version");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("io.nbdnetty.examples.cli.NbdCli source: shared objects file"),
                    jdk + " did not map its archive: " + r.out().lines()
                            .filter(l -> l.contains("NbdCli ")).collect(Collectors.joining("\n")));
        }
        assertEquals(archives, archivesOfThisJar(), "no archive made again");
    }

    // ------------------------------------------------------------------------------------------------- helpers

    /** Exit code and output of a command. */
    record Result(int code, String out, String err) {
        @Override
        public String toString() {
            return "exit " + code + "\nstdout: " + out + "\nstderr: " + err;
        }
    }

    private static void assertClean(Result r) {
        assertEquals(0, r.code(), r.toString());
        List<String> warnings = Stream.concat(r.out().lines(), r.err().lines())
                .filter(l -> l.startsWith("WARNING") || l.contains("VM warning") || l.contains("sun.misc.Unsafe")
                        || l.contains("enable-native-access"))
                .collect(Collectors.toList());
        assertTrue(warnings.isEmpty(), "warnings:\n" + String.join("\n", warnings) + "\n" + r);
    }

    private static Process start(Path jdk, Path out, Path err, String... command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        environment(pb, jdk, Map.of());
        return pb.start();
    }

    private Result run(Path jdk, Map<String, String> env, String... command) throws Exception {
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        environment(pb, jdk, env);
        Process p = pb.start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(String.join(" ", command) + " did not finish; stderr: " + Files.readString(err));
        }
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    /** The given JDK first on the path, and none of the variables that add JVM options or change bin/nbd's. */
    private static void environment(ProcessBuilder pb, Path jdk, Map<String, String> env) {
        Map<String, String> e = pb.environment();
        for (String v : List.of("NBD_JAVA_OPTS", "NBD_CDS", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS")) {
            e.remove(v);
        }
        e.put("PATH", jdk.resolve("bin") + ":" + e.getOrDefault("PATH", "/usr/bin:/bin"));
        e.putAll(env);
    }

    private static String java(Path jdk) {
        return jdk.resolve("bin/java").toString();
    }

    /** bin/nbd's archives of the current nbd.jar (named after its time stamp and size), with their times. */
    private static Map<Path, FileTime> archivesOfThisJar() throws IOException {
        String prefix = "nbd-" + Files.getLastModifiedTime(JAR).toMillis() / 1000 + "-" + Files.size(JAR) + "-";
        Map<Path, FileTime> found = new HashMap<>();
        try (Stream<Path> s = Files.list(JAR.getParent())) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith(prefix)
                    && p.getFileName().toString().endsWith(".jsa")).collect(Collectors.toList())) {
                found.put(p, Files.getLastModifiedTime(p));
            }
        }
        return found;
    }

    /** Another JDK installed beside this one (such as Temurin 25 beside the system's 17), if any. */
    private static Optional<Path> otherJdk() throws IOException {
        Path self = THIS_JDK.toRealPath();
        Path jvms = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvms)) {
            return Optional.empty();
        }
        List<Path> candidates = new ArrayList<>();
        try (Stream<Path> s = Files.list(jvms)) {
            for (Path p : s.sorted().collect(Collectors.toList())) {
                if (Files.isExecutable(p.resolve("bin/java")) && !p.toRealPath().equals(self)) {
                    candidates.add(p.toRealPath());
                }
            }
        }
        return candidates.stream().findFirst();
    }

    private static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("bin/nbd"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("bin/nbd not found above " + Path.of("").toAbsolutePath());
        }
        return p;
    }
}
