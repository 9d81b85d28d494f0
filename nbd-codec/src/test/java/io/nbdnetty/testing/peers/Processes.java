package io.nbdnetty.testing.peers;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/** Process and file helpers shared by the harness. Linux only (reads /proc). */
final class Processes {
    /** Tail of a log file quoted in error messages. */
    private static final int LOG_TAIL_CHARS = 4000;
    /** /proc/net/unix flag __SO_ACCEPTCON: the socket is listening. */
    private static final int SO_ACCEPTCON = 0x10000;

    private Processes() {
    }

    /**
     * Whether a process is gone: no longer exists, or is a zombie waiting for its parent (a daemon whose parent
     * exited is reaped by init, not by us, and may stay a zombie for a moment).
     */
    static boolean isGone(ProcessHandle handle) {
        if (!handle.isAlive()) {
            return true;
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(handle.pid()), "stat"));
            // "pid (comm) S ...": the state follows the last ')' since comm may contain anything.
            int close = stat.lastIndexOf(')');
            return close >= 0 && close + 2 < stat.length() && stat.charAt(close + 2) == 'Z';
        } catch (NoSuchFileException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Sends SIGTERM to a process and its descendants (collected first, since they are re-parented once it dies),
     * waits for all to go, then SIGKILLs whatever is left. With {@code timeoutMillis == 0}, SIGKILLs at once.
     *
     * @return a description of the processes that survived even SIGKILL, empty when all are gone
     */
    static Optional<String> terminate(ProcessHandle root, long timeoutMillis) throws InterruptedException {
        List<ProcessHandle> all = new ArrayList<>();
        all.add(root);
        root.descendants().forEach(all::add);
        if (timeoutMillis > 0) {
            all.forEach(ProcessHandle::destroy);
            if (waitGone(all, timeoutMillis)) {
                return Optional.empty();
            }
        }
        all.forEach(ProcessHandle::destroyForcibly);
        if (waitGone(all, 2000)) {
            return Optional.empty();
        }
        return Optional.of(all.stream().filter(h -> !isGone(h)).map(h -> Long.toString(h.pid()))
                .reduce((a, b) -> a + ", " + b).orElse(""));
    }

    static boolean waitGone(List<ProcessHandle> handles, long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (true) {
            if (handles.stream().allMatch(Processes::isGone)) {
                return true;
            }
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.sleep(10);
        }
    }

    /**
     * Whether some process listens on the Unix socket {@code path}. Reads /proc/net/unix rather than connecting,
     * because a probe connection has side effects on some servers (qemu-nbd without --persistent exits after its
     * first client; socat would start a server for it).
     *
     * @return empty if /proc/net/unix cannot be read
     */
    static Optional<Boolean> isListening(Path path) {
        String wanted = path.toString();
        List<String> lines;
        try {
            lines = Files.readAllLines(Path.of("/proc/net/unix"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return Optional.empty();
        }
        // Num RefCount Protocol Flags Type St Inode Path
        for (String line : lines) {
            String[] f = line.trim().split("\\s+", 8);
            if (f.length == 8 && f[7].equals(wanted)) {
                try {
                    if ((Integer.parseInt(f[3], 16) & SO_ACCEPTCON) != 0) {
                        return Optional.of(true);
                    }
                } catch (NumberFormatException ignored) {
                    // the header line
                }
            }
        }
        return Optional.of(false);
    }

    /** Reads the pid in a pid file, or empty if the file is missing or not (yet) complete. */
    static Optional<Long> readPidFile(Path pidFile) {
        try {
            String s = Files.readString(pidFile).trim();
            return s.isEmpty() ? Optional.empty() : Optional.of(Long.parseLong(s));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** The last few KB of a log file, for error messages. */
    static String tail(Path file) {
        try {
            String s = Files.readString(file, StandardCharsets.UTF_8);
            String t = s.length() > LOG_TAIL_CHARS ? "..." + s.substring(s.length() - LOG_TAIL_CHARS) : s;
            return t.isBlank() ? "(empty)" : t.strip();
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Percent-encodes everything but RFC 3986 unreserved characters and {@code /}. */
    static String uriEncode(String s) {
        StringBuilder b = new StringBuilder();
        for (byte c : s.getBytes(StandardCharsets.UTF_8)) {
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
                b.append((char) c);
            } else {
                b.append('%').append(String.format("%02X", c & 0xff));
            }
        }
        return b.toString();
    }

    /** Quotes a word for a POSIX shell. */
    static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
