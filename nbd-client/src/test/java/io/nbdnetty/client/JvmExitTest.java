package io.nbdnetty.client;

import io.nbdnetty.testing.peers.PeerServer;
import io.netty.buffer.ByteBuf;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * After {@link NbdHandle#close()} and the end of {@code main}, the JVM exits promptly: no thread of the handle's,
 * nor one it borrowed (Netty's global executor keeps a non-daemon thread for a second of quiet), holds it up.
 * A child JVM connects to nbdkit, reads, closes, lists the threads that are not daemons (none may be left) and returns
 * from main; the time from its "closed" line to its exit is measured.
 */
class JvmExitTest {
    /**
     * Under the second Netty's global executor lingers, well over a JVM's own shutdown on a busy machine (the best
     * of three runs counts: the linger is anywhere up to a second, so the thread check above is the sharp one).
     */
    private static final long LIMIT_MILLIS = 700;

    @Test
    void theJvmExitsPromptlyAfterClose() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").start()) {
            List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", System.getProperty("java.class.path"), ConnectCloseReturn.class.getName(),
                    server.socketPath().toString());
            long best = Long.MAX_VALUE;
            for (int i = 0; i < 3; i++) {
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                        StandardCharsets.UTF_8));
                String line;
                long closedAt = 0;
                StringBuilder all = new StringBuilder();
                while ((line = r.readLine()) != null) {
                    all.append(line).append('\n');
                    if (line.equals("closed")) {
                        closedAt = System.nanoTime();
                    }
                }
                assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the child JVM did not exit: " + all);
                long exitedAt = System.nanoTime();
                assertEquals(0, p.exitValue(), all.toString());
                assertFalse(all.toString().contains("non-daemon thread: "), "a thread outlives close() and "
                        + "holds the JVM up: " + all);
                assertTrue(closedAt != 0, all.toString());
                best = Math.min(best, TimeUnit.NANOSECONDS.toMillis(exitedAt - closedAt));
            }
            System.out.println("JVM exit after close(): " + best + " ms");
            assertTrue(best <= LIMIT_MILLIS, "the JVM took " + best + " ms to exit after close()");
        }
    }

    /** The child: connect on a private event loop group, read a block, disconnect, close, return. */
    public static final class ConnectCloseReturn {
        public static void main(String[] args) throws Exception {
            NbdHandle h = NbdHandle.create();
            NbdConnection c = h.connectUnix(Path.of(args[0])).get(30, TimeUnit.SECONDS);
            ByteBuf b = c.read(0, 4096).get(30, TimeUnit.SECONDS);
            b.release();
            c.disconnect().get(30, TimeUnit.SECONDS);
            h.close();
            System.out.println("closed");
            // What could keep the JVM alive once main returns: threads that are not daemons.
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.isAlive() && !t.isDaemon() && t != Thread.currentThread()
                        && !t.getName().equals("DestroyJavaVM")) {
                    System.out.println("non-daemon thread: " + t.getName());
                }
            }
            System.out.flush();
        }
    }
}
