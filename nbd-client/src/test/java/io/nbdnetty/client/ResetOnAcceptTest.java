package io.nbdnetty.client;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A server that accepts and at once resets every connection. The reset can reach the dialled channel before the
 * dialler's connect listener runs (when the connect completes before the listener is added, the listener runs later
 * on the event loop): the channel is closed and its pipeline gone by then. That once threw inside the listener and
 * left the handle CONNECTING for ever, with no handshake timer to end it (seen as a hung {@code nbd info} under load).
 * Every attempt must end, DEAD, with a typed error in words.
 */
class ResetOnAcceptTest {
    private static final int ATTEMPTS = Integer.getInteger("nbd.test.resetAttempts", 300);
    private static final AtomicLong BLACKHOLE = new AtomicLong();

    @Test
    void everyDialToAServerThatResetsAtOnceEndsDeadWithAnErrorInWords() throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread resetter = new Thread(() -> {
                while (!ss.isClosed()) {
                    try (Socket s = ss.accept()) {
                        s.setSoLinger(true, 0);
                    } catch (Exception e) {
                        return;
                    }
                }
            }, "resetter");
            resetter.setDaemon(true);
            resetter.start();
            // The race needs the dialling thread to be slow to add its listener: keep both cores busy meanwhile.
            AtomicBoolean done = new AtomicBoolean();
            for (int k = 0; k < 2; k++) {
                Thread spinner = new Thread(() -> {
                    long x = 0;
                    while (!done.get()) {
                        x += System.nanoTime() & 1;
                    }
                    BLACKHOLE.addAndGet(x);
                }, "spinner-" + k);
                spinner.setDaemon(true);
                spinner.start();
            }
            try {
                dialRepeatedly(ss.getLocalPort());
            } finally {
                done.set(true);
            }
        }
    }

    private static void dialRepeatedly(int port) throws Exception {
        for (int i = 0; i < ATTEMPTS; i++) {
            try (NbdHandle h = NbdHandle.create()) {
                CompletableFuture<NbdConnection> f = h.connectTcp("127.0.0.1", port);
                try {
                    f.get(TestSupport.TIMEOUT_SECONDS, TimeUnit.SECONDS);
                    fail("connected to a server that resets every connection");
                } catch (ExecutionException e) {
                    NbdConnectionClosedException c = assertInstanceOf(NbdConnectionClosedException.class,
                            e.getCause());
                    String m = c.getMessage();
                    assertTrue(m.contains("closed the connection") || m.contains("reset by peer"), m);
                    assertTrue(!m.contains("Exception") && !m.contains("io.netty") && !m.contains("error(-"), m);
                } catch (TimeoutException e) {
                    fail("attempt " + i + " did not end within " + TestSupport.TIMEOUT_SECONDS + " s; state "
                            + h.state());
                }
                TestSupport.await(h.closeFuture());
                assertEquals(NbdState.DEAD, h.state());
            }
        }
    }
}
