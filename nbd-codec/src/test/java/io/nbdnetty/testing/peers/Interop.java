package io.nbdnetty.testing.peers;

import org.junit.jupiter.api.Assumptions;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Decides what an interop test does when a real NBD peer (nbdkit, qemu-nbd, nbd-server, nbdinfo, ...) is missing.
 *
 * <p>System properties, read on every call:
 * <ul>
 *   <li>{@value #MODE_PROPERTY}: {@code auto} (the default) skips the test with a JUnit assumption when a peer is
 *       missing; {@code required} fails it with an {@link AssertionError}. CI runs with {@code required}.</li>
 *   <li>{@value #PATH_PROPERTY}: a search path (entries separated by {@code File.pathSeparator}) used instead of the
 *       {@code PATH} environment variable to find executables. Set it to an empty directory to pretend that no peer
 *       is installed.</li>
 * </ul>
 *
 * <p>{@link PeerServer} and {@link PeerClients} call these checks themselves, so a test that only uses them needs
 * no explicit check. The checks may be called from {@code @BeforeAll}, {@code @BeforeEach} or the test itself.
 */
public final class Interop {
    /** The system property that selects the {@link Mode}. */
    public static final String MODE_PROPERTY = "nbd.interop";
    /** The system property that replaces {@code PATH} when looking for executables. */
    public static final String PATH_PROPERTY = "nbd.interop.path";
    /**
     * The system property naming the directory of qemu 10's tools ({@code qemu-nbd}, {@code qemu-img},
     * {@code qemu-io}), the only packaged peer here that speaks extended headers. Default: the environment variable
     * {@code NBD_QEMU10_DIR}, else {@value #QEMU10_DEFAULT_DIR}, where {@code .ci/run} unpacks it.
     */
    public static final String QEMU10_PROPERTY = "nbd.qemu10.dir";
    /** Where {@code .ci/run} unpacks qemu 10 (Debian's bookworm-backports {@code qemu-utils}). */
    public static final String QEMU10_DEFAULT_DIR = "/opt/qemu10/usr/bin";

    private static final long PROBE_TIMEOUT_SECONDS = 10;
    /** nbdkit plugin/filter probes are slow-ish (a process each); remember the answers per search path. */
    private static final Map<String, Boolean> NBDKIT_PROBES = new ConcurrentHashMap<>();

    /** What to do when a peer is missing. */
    public enum Mode {
        /** Skip the test (JUnit assumption). */
        AUTO,
        /** Fail the test. */
        REQUIRED
    }

    private Interop() {
    }

    /**
     * Returns the mode selected by {@value #MODE_PROPERTY}.
     *
     * @return {@link Mode#AUTO} when the property is unset or blank
     * @throws IllegalArgumentException if the property has another value than {@code auto} or {@code required}
     */
    public static Mode mode() {
        String value = System.getProperty(MODE_PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        switch (value) {
            case "":
            case "auto":
                return Mode.AUTO;
            case "required":
                return Mode.REQUIRED;
            default:
                throw new IllegalArgumentException("-D" + MODE_PROPERTY + " must be 'auto' or 'required', not '"
                        + value + "'");
        }
    }

    /**
     * Finds an executable on the search path ({@value #PATH_PROPERTY} if set, else {@code PATH}).
     *
     * @param command a bare command name such as {@code "nbdkit"}
     * @return its absolute path, or empty if it is not found
     */
    public static Optional<Path> findCommand(String command) {
        if (command.contains("/")) {
            Path p = Path.of(command);
            return Files.isExecutable(p) ? Optional.of(p.toAbsolutePath()) : Optional.empty();
        }
        for (String dir : searchPath()) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, command);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate.toAbsolutePath());
            }
        }
        return Optional.empty();
    }

    /**
     * Requires an executable: returns its path, or skips (auto) / fails (required) the current test.
     *
     * @param command a bare command name such as {@code "qemu-nbd"}
     * @return the absolute path of the executable
     */
    public static Path requireCommand(String command) {
        Optional<Path> found = findCommand(command);
        if (found.isEmpty()) {
            missing(command + " not installed");
        }
        return found.orElseThrow();
    }

    /**
     * Requires one of qemu 10's tools (see {@value #QEMU10_PROPERTY}): returns its path, or skips (auto) / fails
     * (required) the current test. The tool must report a major version of at least 10.
     *
     * @param tool {@code "qemu-nbd"}, {@code "qemu-img"} or {@code "qemu-io"}
     * @return the absolute path of the executable
     */
    public static Path requireQemu10(String tool) {
        String dir = System.getProperty(QEMU10_PROPERTY);
        if (dir == null || dir.isBlank()) {
            dir = System.getenv().getOrDefault("NBD_QEMU10_DIR", QEMU10_DEFAULT_DIR);
        }
        Path exe = Path.of(dir, tool);
        if (!Files.isExecutable(exe)) {
            missing("qemu 10 " + tool + " not found at " + exe + " (.ci/run unpacks it; see shared INTEROP.md)");
        }
        boolean ok = NBDKIT_PROBES.computeIfAbsent("qemu10|" + exe, k -> {
            try {
                Process p = new ProcessBuilder(exe.toString(), "--version")
                        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                        .redirectErrorStream(true)
                        .start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(PROBE_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor();
                    return false;
                }
                // qemu-img and qemu-io say "version 10.0.2", qemu-nbd "qemu-nbd 10.0.2".
                Matcher m = Pattern.compile("(?:version|qemu-nbd) (\\d+)\\.").matcher(out);
                return p.exitValue() == 0 && m.find() && Integer.parseInt(m.group(1)) >= 10;
            } catch (IOException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        });
        if (!ok) {
            missing(exe + " is not qemu 10 or newer");
        }
        return exe;
    }

    /**
     * Requires nbdkit and one of its plugins ({@code nbdkit --dump-plugin PLUGIN} must succeed).
     *
     * @param plugin a plugin name such as {@code "memory"}
     */
    public static void requireNbdkitPlugin(String plugin) {
        Path nbdkit = requireCommand("nbdkit");
        if (!nbdkitProbe(nbdkit, "plugin:" + plugin, List.of("--dump-plugin", plugin))) {
            missing("nbdkit plugin '" + plugin + "' not installed");
        }
    }

    /**
     * Requires nbdkit and one of its filters ({@code nbdkit --filter=FILTER null --dump-plugin} must succeed).
     *
     * @param filter a filter name such as {@code "error"}
     */
    public static void requireNbdkitFilter(String filter) {
        Path nbdkit = requireCommand("nbdkit");
        if (!nbdkitProbe(nbdkit, "filter:" + filter, List.of("--filter=" + filter, "null", "--dump-plugin"))) {
            missing("nbdkit filter '" + filter + "' not installed");
        }
    }

    /**
     * Skips (auto) or fails (required) the current test because a peer is missing.
     *
     * @param what what is missing, e.g. {@code "nbdkit not installed"}
     */
    public static void missing(String what) {
        if (mode() == Mode.REQUIRED) {
            throw new AssertionError(what + ": failing interop test because -D" + MODE_PROPERTY + "=required");
        }
        Assumptions.abort(what + ": skipping interop test (run with -D" + MODE_PROPERTY
                + "=required to fail instead)");
    }

    private static List<String> searchPath() {
        String path = System.getProperty(PATH_PROPERTY);
        if (path == null) {
            path = System.getenv().getOrDefault("PATH", "");
        }
        return List.of(path.split(File.pathSeparator, -1));
    }

    private static boolean nbdkitProbe(Path nbdkit, String key, List<String> args) {
        return NBDKIT_PROBES.computeIfAbsent(nbdkit + "|" + key, k -> {
            List<String> command = new ArrayList<>();
            command.add(nbdkit.toString());
            command.addAll(args);
            try {
                Process p = new ProcessBuilder(command)
                        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                        .redirectError(ProcessBuilder.Redirect.DISCARD)
                        .start();
                if (!p.waitFor(PROBE_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor();
                    return false;
                }
                return p.exitValue() == 0;
            } catch (IOException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        });
    }
}
