package io.nbdnetty.examples.docs;

import io.nbdnetty.client.NbdCommandException;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdConnectionClosedException;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdState;
import io.nbdnetty.client.NbdStateException;
import io.nbdnetty.client.NbdStrict;
import io.nbdnetty.client.NbdStrictModeException;
import io.nbdnetty.testing.peers.PeerServer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The code of docs/errors.md: each kind of failure made to happen against nbdkit. */
@Timeout(120)
class ErrorsDocTest {

    @Test
    void commandErrorLeavesTheConnectionUsable() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M")
                .filter("error", "error-pread=EIO", "error-pread-rate=100%").start()) {
            Path socketPath = server.socketPath();
            NbdState[] after = new NbdState[1];
            // tag::command[]
            try (NbdHandle handle = NbdHandle.create()) {
                NbdConnection conn = handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(socketPath))).get();
                try {
                    conn.read(0, 4096).get().release();
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof NbdCommandException failed) {
                        // The server said no to this one request: EIO here, with its message if it sent one.
                        System.out.println(failed.command() + ": " + failed.error() + " " + failed.serverMessage());
                    } else {
                        throw e;
                    }
                }
                conn.write(0, Unpooled.wrappedBuffer(new byte[512])).get();   // the connection carries on
                // end::command[]
                after[0] = handle.state();
            }
            assertEquals(NbdState.READY, after[0]);
        }
    }

    @Test
    void strictModeRefusesBeforeSending() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").start();
             NbdHandle handle = NbdHandle.create()) {
            NbdConnection conn = handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(server.socketPath())))
                    .get();
            // tag::strict[]
            CompletableFuture<ByteBuf> beyondTheEnd = conn.read(conn.size(), 4096);    // never sent
            ExecutionException e = assertThrows(ExecutionException.class, beyondTheEnd::get);
            NbdStrictModeException refused = (NbdStrictModeException) e.getCause();
            assertEquals(NbdStrict.BOUNDS, refused.check());
            // end::strict[]
            assertEquals(0, conn.stats().requestsSent());
            assertEquals(NbdState.READY, handle.state());
        }
    }

    @Test
    void serverGoneFailsEverythingAndTheHandleIsDead() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").filter("delay", "rdelay=10").start();
             NbdHandle handle = NbdHandle.create()) {
            NbdConnection conn = handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(server.socketPath())))
                    .get();
            // tag::dead[]
            CompletableFuture<ByteBuf> pending = conn.read(0, 512);
            server.kill();                                             // the server vanishes mid-request
            ExecutionException e = assertThrows(ExecutionException.class, pending::get);
            assertInstanceOf(NbdConnectionClosedException.class, e.getCause());
            handle.closeFuture().get();                                // the channel is closed
            assertEquals(NbdState.DEAD, handle.state());               // only close() is left to do
            // end::dead[]
        }
    }

    @Test
    void wrongStateIsRefusedAndChangesNothing() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").start();
             NbdHandle handle = NbdHandle.create()) {
            handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(server.socketPath()))).get();
            // tag::state[]
            ExecutionException e = assertThrows(ExecutionException.class, () -> handle.optList().get());
            NbdStateException wrong = (NbdStateException) e.getCause();
            System.out.println(wrong.getMessage());   // invalid state: connected with the server: the handle ...
            assertEquals(NbdState.READY, wrong.state());
            assertEquals(NbdState.READY, handle.state());
            // end::state[]
            assertInstanceOf(NbdException.class, wrong);
        }
    }
}
