package io.nbdnetty.examples.docs;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdExportEntry;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdOptionException;
import io.nbdnetty.client.NbdState;
import io.nbdnetty.testing.peers.PeerServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The code of docs/opt-mode.md, against nbdkit with two named exports. */
@Timeout(120)
class OptModeDocTest {

    /** nbdkit memory offering exports "a" and "b" and refusing any other name. */
    private static PeerServer twoExports() {
        return PeerServer.nbdkit("memory", "size=1M").filter("exportname", "exportname=a", "exportname=b",
                "exportname-list=explicit", "exportname-strict=true", "exportdesc=fixed:a memory disk").start();
    }

    @Test
    void negotiateByHand() throws Exception {
        try (PeerServer server = twoExports()) {
            Path socketPath = server.socketPath();
            // tag::optmode[]
            NbdClientConfig config = NbdClientConfig.builder()
                    .optMode(true)                       // stop at NEGOTIATING instead of running to READY
                    .build();
            try (NbdHandle handle = NbdHandle.create(config)) {
                handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(socketPath)));
                handle.negotiatingFuture().get();        // greeting read; TLS and structured replies settled

                for (NbdExportEntry e : handle.optList().get()) {               // NBD_OPT_LIST
                    System.out.println("export " + e.name() + ": " + e.description());
                }
                handle.setExportName("b");                                      // allowed while negotiating
                NbdExportInfo info = handle.optInfo().get();                    // NBD_OPT_INFO
                System.out.println(info.size() + " bytes, read-only " + info.isReadOnly());

                List<NbdMetaContext> offered = handle.optListMetaContexts(List.of()).get(); // all it has
                List<NbdMetaContext> granted = handle.optSetMetaContexts(
                        List.of(NbdMetaContext.BASE_ALLOCATION)).get();         // what block status will use
                System.out.println("offered " + offered + ", granted " + granted);

                NbdConnection conn = handle.optGo().get();                      // NBD_OPT_GO: READY
                System.out.println(handle.state() + ", contexts " + conn.metaContexts());
                conn.disconnect().get();
            }
            // end::optmode[]
        }
    }

    @Test
    void retryAfterARefusal() throws Exception {
        try (PeerServer server = twoExports()) {
            Path socketPath = server.socketPath();
            NbdState[] after = new NbdState[1];
            // tag::retry[]
            try (NbdHandle handle = NbdHandle.create(NbdClientConfig.builder().optMode(true).build())) {
                handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(socketPath)));
                handle.negotiatingFuture().get();
                handle.setExportName("no-such-export");
                try {
                    handle.optGo().get();
                } catch (ExecutionException e) {
                    NbdOptionException refused = (NbdOptionException) e.getCause();
                    System.out.println(refused.replyType() + ": " + refused.serverMessage());
                    after[0] = handle.state();           // still NEGOTIATING: the server allows another try
                }
                handle.setExportName("a");
                NbdConnection conn = handle.optGo().get();
                conn.disconnect().get();
            }
            // end::retry[]
            assertEquals(NbdState.NEGOTIATING, after[0]);
        }
    }

    @Test
    void abort() throws Exception {
        try (PeerServer server = twoExports()) {
            Path socketPath = server.socketPath();
            // tag::abort[]
            try (NbdHandle handle = NbdHandle.create(NbdClientConfig.builder().optMode(true).build())) {
                handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(socketPath)));
                handle.negotiatingFuture().get();
                List<NbdExportEntry> exports = handle.optList().get();
                handle.optAbort().get();                 // NBD_OPT_ABORT: a clean goodbye, no transmission
                System.out.println(exports.size() + " exports; " + handle.state());   // CLOSED
            }
            // end::abort[]
            assertTrue(true);
        }
    }
}
