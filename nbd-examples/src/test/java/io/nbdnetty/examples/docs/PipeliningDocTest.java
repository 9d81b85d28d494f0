package io.nbdnetty.examples.docs;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdUri;
import io.nbdnetty.client.device.NbdConnectionPool;
import io.nbdnetty.testing.peers.PeerServer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The code of docs/pipelining.md, against nbdkit memory (which advertises multi-conn). */
@Timeout(120)
class PipeliningDocTest {

    @Test
    void manyInFlight() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=64M").start()) {
            Path socketPath = server.socketPath();
            long[] sent = new long[1];
            // tag::pipeline[]
            NbdClientConfig config = NbdClientConfig.builder()
                    .maxInFlightRequests(64)              // at most 64 requests on the wire (default 512)
                    .maxInFlightBytes(8 << 20)            // and at most 8 MiB of data (default 64 MiB)
                    .build();
            try (NbdHandle handle = NbdHandle.create(config)) {
                NbdConnection conn = handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(socketPath))).get();
                int blockSize = 64 << 10;
                List<CompletableFuture<Void>> writes = new ArrayList<>();
                for (long offset = 0; offset < conn.size(); offset += blockSize) {
                    conn.awaitCapacity().get();           // back-pressure: wait for room instead of queueing
                    writes.add(conn.write(offset, Unpooled.wrappedBuffer(new byte[blockSize])));
                }
                CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get();
                conn.flush().get();
                System.out.println(conn.stats());
                // end::pipeline[]
                sent[0] = conn.stats().requestsSent();
                conn.disconnect().get();
            }
            assertEquals(1025, sent[0]);
        }
    }

    @Test
    void multiConn() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=64M").start()) {
            NbdUri uri = NbdUri.parse(server.uri());
            // tag::pool[]
            // Four connections to one export; refused unless the server advertises multi-conn (or is read-only).
            try (NbdConnectionPool pool = NbdConnectionPool.open(4, () -> NbdHandle.create().connect(uri)).get()) {
                List<CompletableFuture<Void>> writes = new ArrayList<>();
                for (int i = 0; i < 64; i++) {
                    writes.add(pool.write(i * 65536L, Unpooled.wrappedBuffer(new byte[65536]), 0));
                }
                pool.flush().get();                      // waits for those writes, then flushes one connection
                ByteBuf back = pool.read(0, 65536, 0).get();   // any connection sees every flushed write
                back.release();
                pool.disconnect().get();
            }
            // end::pool[]
        }
    }
}
