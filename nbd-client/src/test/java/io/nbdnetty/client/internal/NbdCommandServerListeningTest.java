package io.nbdnetty.client.internal;

import io.nbdnetty.testing.peers.Interop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * socat binds its socket (making the file) before it listens; a connect in between is refused, which made a
 * {@code [ CMD ]} source fail now and then with "Connection refused". The readiness check waits for listening.
 */
class NbdCommandServerListeningTest {
    @TempDir
    Path dir;

    @Test
    void aBoundSocketIsNotReadyUntilItListens() throws Exception {
        Path python = Interop.requireCommand("python3");
        Path socket = dir.resolve("s.sock");
        // Binds, says so, waits for a line, listens, says so, waits for a line: the two states held apart.
        String script = "import socket,sys\n"
                + "s=socket.socket(socket.AF_UNIX)\n"
                + "s.bind(sys.argv[1]); print('bound', flush=True); sys.stdin.readline()\n"
                + "s.listen(1); print('listening', flush=True); sys.stdin.readline()\n";
        Process p = new ProcessBuilder(python.toString(), "-c", script, socket.toString()).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(),
                StandardCharsets.UTF_8)); OutputStream in = p.getOutputStream()) {
            assertFalse(NbdCommandServer.listening(socket));
            assertEquals("bound", out.readLine());
            assertTrue(Files.exists(socket));
            assertFalse(NbdCommandServer.listening(socket), "bound but not listening yet");
            in.write('\n');
            in.flush();
            assertEquals("listening", out.readLine());
            assertTrue(NbdCommandServer.listening(socket));
            in.write('\n');
            in.flush();
        } finally {
            p.destroy();
            p.waitFor();
        }
    }
}
