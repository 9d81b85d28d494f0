package io.nbdnetty.client;

import io.nbdnetty.client.NbdEventLoops.Transport;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The io_uring jars are optional dependencies: in a JVM whose class path lacks them, the library still loads, makes
 * its default groups and dials, and asking for io_uring fails with a message naming the missing jars.
 */
class WithoutIoUringJarsTest {
    @TempDir
    Path dir;

    @Test
    void theLibraryWorksWithoutTheIoUringJarsAndSaysWhatIsMissing() throws Exception {
        String full = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> entries = Arrays.asList(full.split(File.pathSeparator));
        String cp = entries.stream().filter(e -> !e.contains("io_uring"))
                .collect(Collectors.joining(File.pathSeparator));
        assertTrue(entries.stream().anyMatch(e -> e.contains("netty-transport-classes-io_uring")),
                "the test class path should have the io_uring jars to leave out: " + full);
        assertFalse(cp.contains("io_uring"));
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dio.netty.leakDetection.level=paranoid", "-cp", cp, Child.class.getName(),
                dir.resolve("none.sock").toString()).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM did not finish");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("OK"), out);
    }

    /** Runs in the child JVM, without io_uring on its class path. */
    static final class Child {
        public static void main(String[] args) throws Exception {
            check(!Transport.IO_URING.isAvailable(), "io_uring should be unavailable");
            String cause = Transport.IO_URING.unavailabilityCause().orElseThrow().getMessage();
            check(cause.contains("not on the class path") && cause.contains("netty-transport-native-io_uring"),
                    cause);
            try {
                NbdEventLoops.newGroup(Transport.IO_URING, 1);
                check(false, "newGroup(IO_URING) should throw");
            } catch (UnsupportedOperationException e) {
                check(e.getMessage().startsWith("the io_uring transport is not available here: "), e.getMessage());
            }
            check(NbdEventLoops.defaultTransport() != Transport.IO_URING, "default");
            for (Transport t : new Transport[] {NbdEventLoops.defaultTransport(), Transport.NIO}) {
                EventLoopGroup group = NbdEventLoops.newGroup(t, 1);
                try (NbdHandle h = NbdHandle.create(NbdClientConfig.defaults(), group)) {
                    // Dialling picks the channel class for the group (and must not touch io_uring classes): a socket
                    // that does not exist fails as "cannot connect", not with a NoClassDefFoundError.
                    try {
                        h.connectUnix(Path.of(args[0])).get(20, TimeUnit.SECONDS);
                        check(false, "connecting to a missing socket should fail");
                    } catch (ExecutionException e) {
                        check(e.getCause() instanceof NbdConnectionClosedException, String.valueOf(e.getCause()));
                    }
                } finally {
                    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
                }
            }
            System.out.println("OK");
        }

        private static void check(boolean ok, String what) {
            if (!ok) {
                throw new AssertionError(what);
            }
        }
    }
}
