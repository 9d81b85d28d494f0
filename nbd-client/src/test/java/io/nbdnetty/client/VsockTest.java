package io.nbdnetty.client;

import io.nbdnetty.testing.peers.Interop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.LinuxSocket;
import io.netty.channel.epoll.VSockAddress;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static io.nbdnetty.client.TestSupport.assertDead;
import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.fails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * AF_VSOCK: {@code nbd+vsock} URIs map to a CID and a port as libnbd maps them, {@link NbdHandle#connectVsock}
 * fails in words where vsock cannot work, and a real round trip with {@code nbdkit --vsock} over vsock loopback
 * (CID 1) where the kernel has it.
 */
class VsockTest {

    @TempDir
    Path dir;

    @Test
    void uriMapsToCidAndPort() {
        NbdUri u = NbdUri.parse("nbd+vsock://3:5000/disk");
        assertEquals(NbdUri.Transport.VSOCK, u.transport());
        assertEquals(3, u.vsockCid());
        assertEquals(5000, u.port());
        assertEquals("disk", u.exportName());
        assertFalse(u.tls());
        assertEquals("nbd+vsock://3:5000/disk", u.toString());

        // libnbd: no CID means the host (2), no port means 10809.
        NbdUri host = NbdUri.parse("nbd+vsock:///");
        assertEquals(2, host.vsockCid());
        assertEquals(10809, host.port());
        assertEquals("", host.exportName());
        assertEquals(10809, NbdUri.parse("nbd+vsock://7/x").port());

        // CIDs and ports are unsigned 32-bit numbers; java.net.URI alone would refuse such a port.
        NbdUri big = NbdUri.parse("nbds+vsock://4294967294:4294967295/e");
        assertTrue(big.tls());
        assertEquals(4294967294L, Integer.toUnsignedLong(big.vsockCid()));
        assertEquals(4294967295L, Integer.toUnsignedLong(big.port()));
        assertEquals("nbds+vsock://4294967294:4294967295/e", big.toString());
    }

    @Test
    void badVsockUrisAreRefusedInWords() {
        String m = assertThrows(IllegalArgumentException.class, () -> NbdUri.parse("nbd+vsock://host/")).getMessage();
        assertTrue(m.contains("vsock CID must be a number, not 'host'"), m);
        m = assertThrows(IllegalArgumentException.class, () -> NbdUri.parse("nbd+vsock://4294967296/")).getMessage();
        assertTrue(m.contains("does not fit 32 bits"), m);
        m = assertThrows(IllegalArgumentException.class, () -> NbdUri.parse("nbd+vsock://2:x/")).getMessage();
        assertTrue(m.contains("vsock port must be a number"), m);
        m = assertThrows(IllegalArgumentException.class, () -> NbdUri.parse("nbd+vsock://2/?socket=/tmp/s"))
                .getMessage();
        assertTrue(m.contains("socket= is only for nbd+unix"), m);
        assertThrows(IllegalStateException.class, () -> NbdUri.parse("nbd://h/").vsockCid());
    }

    /** Plain words: no Java or Netty class names, no errno numbers, no Netty's "connectVSock(..) failed" prefix. */
    private static void assertPlainWords(String m) {
        for (String bad : List.of("Exception", "VSockAddress", "(..)", "io.netty", "errno", "error(-")) {
            assertFalse(m.contains(bad), "'" + bad + "' in: " + m);
        }
    }

    @Test
    void noVsockRouteFailsInWordsAndTheHandleDies() throws Exception {
        Assumptions.assumeTrue(Epoll.isAvailable(), "epoll is not available here");
        // A CID no machine has: whatever this kernel has (no AF_VSOCK at all, a guest transport that times out, a
        // host without vhost_vsock), the connect fails, and says where and why.
        int cid = 0x7ffffff0;
        NbdHandle h = NbdHandle.create(NbdClientConfig.builder().connectTimeout(Duration.ofSeconds(10)).build());
        NbdConnectionClosedException e = fails(NbdConnectionClosedException.class, h.connectVsock(cid, 10809));
        String m = e.getMessage();
        assertTrue(m.startsWith("cannot connect to vsock CID 2147483632 port 10809: "), m);
        assertTrue(m.length() > "cannot connect to vsock CID 2147483632 port 10809: ".length() + 5, m);
        assertPlainWords(m);
        assertDead(h);
        h.close();
    }

    @Test
    void aUriNamesItselfInTheError() throws Exception {
        Assumptions.assumeTrue(Epoll.isAvailable(), "epoll is not available here");
        NbdHandle h = NbdHandle.create(NbdClientConfig.builder().connectTimeout(Duration.ofSeconds(10)).build());
        NbdConnectionClosedException e = fails(NbdConnectionClosedException.class,
                h.connect(NbdUri.parse("nbd+vsock://2147483632:7/disk")));
        assertTrue(e.getMessage().startsWith(
                "cannot connect to vsock CID 2147483632 port 7 (nbd+vsock://2147483632:7/disk): "), e.getMessage());
        assertPlainWords(e.getMessage());
        assertEquals("disk", h.exportName());
        h.close();
    }

    @Test
    void anNioGroupCannotCarryVsock() throws Exception {
        EventLoopGroup nio = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("vsock-nio", true),
                NioIoHandler.newFactory());
        try {
            NbdHandle h = NbdHandle.create(NbdClientConfig.defaults(), nio);
            NbdConnectionClosedException e = fails(NbdConnectionClosedException.class, h.connectVsock(2, 10809));
            String m = e.getMessage();
            assertTrue(m.startsWith("cannot connect to vsock CID 2 port 10809: vsock needs "), m);
            assertTrue(m.contains(Epoll.isAvailable() ? "group is NIO" : "epoll transport"), m);
            assertPlainWords(m);
            assertDead(h);
            h.close();
        } finally {
            nio.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void withoutEpollTheErrorSaysSo() throws Exception {
        // A JVM where Netty's native transports are switched off: vsock cannot work, and the message says why.
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dio.netty.transport.noNative=true", "-cp", cp, NoEpollChild.class.getName())
                .redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM did not finish");
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        String m = out.lines().filter(l -> l.startsWith("MESSAGE ")).findFirst().orElseThrow(() ->
                new AssertionError(out)).substring("MESSAGE ".length());
        assertTrue(m.startsWith("cannot connect to vsock CID 2 port 10809: vsock needs Netty's epoll transport "
                + "(Linux), which is not available here"), m);
        // Netty's reason names the system property that switched it off, which is what a reader needs; no class.
        assertTrue(m.endsWith("-Dio.netty.transport.noNative=true"), m);
        assertFalse(m.contains("Exception") || m.contains("(..)"), m);
    }

    /** Runs in a child JVM with {@code -Dio.netty.transport.noNative=true}. */
    static final class NoEpollChild {
        public static void main(String[] args) throws Exception {
            if (Epoll.isAvailable()) {
                throw new AssertionError("epoll should be off in this JVM");
            }
            NbdHandle h = NbdHandle.create();
            try {
                h.connectVsock(2, 10809).get(20, TimeUnit.SECONDS);
                throw new AssertionError("connectVsock should fail without epoll");
            } catch (java.util.concurrent.ExecutionException e) {
                if (!(e.getCause() instanceof NbdConnectionClosedException)) {
                    throw new AssertionError("unexpected " + e.getCause(), e.getCause());
                }
                System.out.println("MESSAGE " + e.getCause().getMessage());
            } finally {
                h.close();
            }
        }
    }

    @Test
    void onlyOnceAndOnlyWhenCreated() throws Exception {
        Assumptions.assumeTrue(Epoll.isAvailable(), "epoll is not available here");
        NbdHandle h = NbdHandle.create();
        h.close();
        fails(NbdStateException.class, h.connectVsock(2, 10809));
    }

    /**
     * Whether this kernel can reach CID 1 (VMADDR_CID_LOCAL): binding a vsock socket to it works only with a loopback
     * transport (the {@code vsock_loopback} module). Asked of the kernel through Netty's socket calls, not through the
     * code under test.
     */
    private static String loopbackUnavailable(int port) {
        if (!Epoll.isAvailable()) {
            return "epoll is not available";
        }
        LinuxSocket s;
        try {
            s = LinuxSocket.newVSockStream();
        } catch (RuntimeException e) {
            return "this kernel has no AF_VSOCK sockets (" + e.getMessage() + ")";
        }
        try {
            s.bindVSock(new VSockAddress(VSockAddress.VMADDR_CID_LOCAL, port));
            return null;
        } catch (Exception e) {
            return "binding to CID 1 fails (" + e.getMessage() + "): the kernel has no vsock loopback transport "
                    + "(vsock_loopback module)";
        } finally {
            try {
                s.close();
            } catch (Exception ignored) {
                // probing only
            }
        }
    }

    @Test
    void roundTripWithNbdkitOverVsockLoopback() throws Exception {
        Path nbdkit = Interop.requireCommand("nbdkit");
        Interop.requireNbdkitPlugin("memory");
        int port = 20000 + new Random().nextInt(30000);
        String why = loopbackUnavailable(port);
        // Not Interop.missing: a kernel without vsock loopback is a limit of the machine, not a missing peer, so the
        // test is skipped (with this reason) even under -Dnbd.interop=required.
        Assumptions.assumeTrue(why == null, "vsock loopback (CID 1) is not available on this machine: " + why
                + "; skipped whatever -D" + Interop.MODE_PROPERTY + " says");

        Path pidFile = dir.resolve("nbdkit.pid");
        Process p = new ProcessBuilder(nbdkit.toString(), "-f", "--exit-with-parent", "--vsock", "-p",
                Integer.toString(port), "-P", pidFile.toString(), "memory", "size=1M")
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true).redirectOutput(dir.resolve("nbdkit.log").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!Files.exists(pidFile) && p.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(Files.exists(pidFile), "nbdkit --vsock did not start: " + Files.readString(
                    dir.resolve("nbdkit.log")));

            NbdHandle h = NbdHandle.create();
            NbdConnection c = await(h.connect(NbdUri.parse("nbd+vsock://1:" + port + "/")));
            assertEquals(1 << 20, c.size());
            byte[] data = TestSupport.pattern(4096, 5);
            await(c.write(4096, io.netty.buffer.Unpooled.wrappedBuffer(data)));
            io.netty.buffer.ByteBuf back = await(c.read(4096, 4096));
            assertArrayEquals(data, TestSupport.bytes(back));
            h.close();

            // connectVsock, the call libnbd names connect_vsock, reaches the same server.
            NbdHandle h2 = NbdHandle.create();
            NbdConnection c2 = await(h2.connectVsock(VSockAddress.VMADDR_CID_LOCAL, port));
            io.netty.buffer.ByteBuf again = await(c2.read(4096, 4096));
            assertArrayEquals(data, TestSupport.bytes(again));
            h2.close();
        } finally {
            p.destroy();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
            }
        }
    }
}
