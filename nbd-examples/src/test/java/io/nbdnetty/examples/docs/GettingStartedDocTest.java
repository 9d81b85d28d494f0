package io.nbdnetty.examples.docs;

import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdUri;
import io.nbdnetty.examples.server.MemoryExport;
import io.nbdnetty.examples.server.NbdServer;
import io.nbdnetty.testing.peers.Interop;
import io.nbdnetty.testing.peers.PeerServer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The code of README.md and docs/getting-started.md, run against nbdkit and the example server. */
@Timeout(120)
class GettingStartedDocTest {

    @Test
    void readme() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=64M").start()) {
            Path socketPath = server.socketPath();
            byte[] bytes = new byte[4096];
            // tag::readme[]
            NbdClientConfig config = NbdClientConfig.builder()
                    .exportName("disk")
                    .addMetaContext("base:allocation")
                    .build();
            try (NbdHandle handle = NbdHandle.create(config)) {
                SocketChannel socket = SocketChannel.open(UnixDomainSocketAddress.of(socketPath)); // connected
                NbdConnection conn = handle.connect(socket).get();    // connect returns at once; get() waits
                conn.write(0, Unpooled.wrappedBuffer(bytes)).get();    // the connection releases the buffer
                ByteBuf data = conn.read(0, 4096).get();               // the caller releases the buffer
                data.release();
                NbdBlockStatus status = conn.blockStatus(0, conn.size(), 0).get();
                conn.disconnect().get();                               // NBD_CMD_DISC after in-flight requests
            }
            // end::readme[]
        }
    }

    @Test
    void adoptAConnectedSocket() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=64M").start()) {
            Path socketPath = server.socketPath();
            // tag::socket[]
            NbdClientConfig config = NbdClientConfig.builder()
                    .addMetaContext(NbdMetaContext.BASE_ALLOCATION)
                    .build();
            try (NbdHandle handle = NbdHandle.create(config)) {
                // A socket you connected yourself: TCP or Unix domain, blocking mode or not.
                SocketChannel socket = SocketChannel.open(UnixDomainSocketAddress.of(socketPath));
                CompletableFuture<NbdConnection> ready = handle.connect(socket); // returns at once
                NbdConnection conn = ready.get();                                // the handshake is done
                System.out.println(conn.size() + " bytes, " + conn.replyStyle() + ", " + handle.state());

                conn.write(0, Unpooled.copiedBuffer("hello", StandardCharsets.UTF_8)).get();
                ByteBuf data = conn.read(0, 5).get();
                try {
                    System.out.println(data.toString(StandardCharsets.UTF_8));  // hello
                } finally {
                    data.release();                                             // a read buffer is yours
                }
                conn.disconnect().get();                                        // NBD_CMD_DISC, then close
            }
            // end::socket[]
        }
    }

    @Test
    void connectByUri() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M").start()) {
            Path socketPath = server.socketPath();
            // tag::uri[]
            NbdUri uri = NbdUri.parse("nbd+unix:///?socket=" + socketPath);  // or nbd://host:10809/export
            try (NbdHandle handle = NbdHandle.create()) {
                NbdConnection conn = handle.connect(uri).get();   // dials, then the same handshake
                System.out.println(uri + ": " + conn.exportInfo());
                conn.disconnect().get();
            }
            // end::uri[]
            assertEquals("", uri.exportName());
        }
    }

    @Test
    void connectTcpToTheExampleServer() throws Exception {
        // tag::tcp[]
        try (NbdServer server = NbdServer.builder().export("disk", new MemoryExport(16 << 20)).build()) {
            InetSocketAddress address = (InetSocketAddress) server.bind(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));   // port 0: any free port
            try (NbdHandle handle = NbdHandle.create(NbdClientConfig.builder().exportName("disk").build())) {
                NbdConnection conn = handle.connectTcp("127.0.0.1", address.getPort()).get();
                System.out.println("export \"disk\": " + conn.size() + " bytes");
                conn.disconnect().get();
            }
        }
        // end::tcp[]
    }

    @Test
    void connectCommand() throws Exception {
        Interop.requireCommand("socat");
        Interop.requireNbdkitPlugin("memory");
        // tag::command[]
        try (NbdHandle handle = NbdHandle.create()) {
            // The server runs as a child whose stdin/stdout is the connection (libnbd's connect_command).
            NbdConnection conn = handle.connectCommand(
                    List.of("nbdkit", "-s", "--exit-with-parent", "memory", "size=1M")).get();
            System.out.println(handle.protocol() + ", " + conn.size() + " bytes");
            conn.disconnect().get();
        }   // closing the handle stops socat; --exit-with-parent makes nbdkit follow
        // end::command[]
        assertTrue(true);
    }

    @Test
    void completeProjectsClassRuns() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=5M").start()) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            java.io.PrintStream stdout = System.out;
            System.setOut(new java.io.PrintStream(out, true, StandardCharsets.UTF_8));
            try {
                Hello.main(new String[] {server.uri()});
            } finally {
                System.setOut(stdout);
            }
            assertEquals(server.uri() + ": 5242880 bytes\n", out.toString(StandardCharsets.UTF_8));
        }
    }
}

/** The one class of the complete project in docs/getting-started.md (names written out: the page shows no imports). */
// tag::hello[]
class Hello {
    public static void main(String[] args) throws Exception {
        try (io.nbdnetty.client.NbdHandle handle = io.nbdnetty.client.NbdHandle.create()) {
            var conn = handle.connect(io.nbdnetty.client.NbdUri.parse(args[0])).get();
            System.out.println(args[0] + ": " + conn.size() + " bytes");
            conn.disconnect().get();
        }
    }
}
// end::hello[]
