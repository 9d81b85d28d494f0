package io.nbdnetty.examples.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.nbdnetty.examples.cli.CliRun.nbd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code nbd serve}: option parsing, error reporting, and a real run in a child JVM. */
class ServeCommandTest {
    @TempDir
    Path dir;

    @Test
    void sizes() {
        assertEquals(512, ServeCommand.parseSizeValue("512"));
        assertEquals(4096, ServeCommand.parseSizeValue("4K"));
        assertEquals(64L << 20, ServeCommand.parseSizeValue("64M"));
        assertEquals(64L << 20, ServeCommand.parseSizeValue("64MiB"));
        assertEquals(1L << 30, ServeCommand.parseSizeValue("1g"));
        assertEquals(2L << 40, ServeCommand.parseSizeValue("2T"));
        assertThrows(IllegalArgumentException.class, () -> ServeCommand.parseSizeValue("12X"));
        assertThrows(IllegalArgumentException.class, () -> ServeCommand.parseSizeValue("-1"));
        assertThrows(IllegalArgumentException.class, () -> ServeCommand.parseSizeValue("9999999E"));
    }

    @Test
    void versionAndHelp() {
        CliRun.Run v = nbd("--version");
        assertEquals(0, v.code());
        assertTrue(v.out().startsWith("nbd "), v.out());
        CliRun.Run h = nbd("serve", "--help");
        assertEquals(0, h.code());
        assertTrue(h.out().contains("--no-extended-headers"), h.out());
    }

    @Test
    void badOptionsAreOneLineAndExitOne() {
        for (List<String> args : List.of(List.of("serve", "--size", "12X"),
                List.of("serve", "--unix", "/tmp/x", "--port", "1"),
                List.of("serve", "--block-size", "3,4096,1M"),
                List.of("serve", "--oldstyle", "--export", "a", "--export", "b"),
                List.of("serve", "--no-such-option"),
                List.of("no-such-command"))) {
            CliRun.Run r = nbd(args.toArray(new String[0]));
            assertEquals(1, r.code(), args + ": " + r);
            String first = r.err().lines().findFirst().orElse("");
            assertTrue(first.startsWith("nbd"), args + ": " + r.err());
            assertFalse(r.err().contains("\tat "), "no stack trace without --debug: " + r.err());
        }
    }

    @Test
    void missingFileIsAnErrorWithATraceOnlyUnderDebug() {
        CliRun.Run r = nbd("serve", "--unix", dir.resolve("s.sock").toString(), "--file",
                dir.resolve("none").toString());
        assertEquals(1, r.code());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("nbd serve: "), r.err());
        CliRun.Run d = nbd("serve", "--debug", "--unix", dir.resolve("s.sock").toString(), "--file",
                dir.resolve("none").toString());
        assertEquals(1, d.code());
        assertTrue(d.err().contains("\tat "), d.err());
    }

    @Test
    void servesUntilTerminated() throws Exception {
        Path socket = dir.resolve("s.sock");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), NbdCli.class.getName(),
                "serve", "--unix", socket.toString(), "--size", "2M", "--export", "disk")
                .redirectError(dir.resolve("stderr.txt").toFile()).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            assertNotNull(line, "nbd serve printed nothing; stderr: " + Files.readString(dir.resolve("stderr.txt")));
            assertEquals("serving export \"disk\" (MemoryExport[size=2097152, chunkSize=65536]) at nbd+unix:///disk"
                    + "?socket=" + socket, line);
            assertTrue(Files.exists(socket));
            if (new File("/usr/bin/nbdinfo").canExecute()) {
                Process info = new ProcessBuilder("nbdinfo", "--size", "nbd+unix:///disk?socket=" + socket)
                        .redirectErrorStream(true).start();
                assertTrue(info.waitFor(30, TimeUnit.SECONDS));
                assertEquals("2097152", new String(info.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
                        .trim());
            }
        } finally {
            p.destroy(); // SIGTERM: the shutdown hook closes the server
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("nbd serve did not stop on SIGTERM");
            }
        }
        assertFalse(Files.exists(socket), "the socket file is removed on shutdown");
    }
}
