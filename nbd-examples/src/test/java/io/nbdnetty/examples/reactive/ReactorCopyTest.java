package io.nbdnetty.examples.reactive;

import io.nbdnetty.client.CountingDevice;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link ReactorCopy}: nbdkit pattern copied to nbdkit memory through Reactor, with bounded reads in flight. */
class ReactorCopyTest {
    private static <V> V await(CompletableFuture<V> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    @Test
    void copiesAnExportWithBackpressure() throws Exception {
        long size = 16L << 20;
        try (PeerServer src = PeerServer.nbdkit("pattern", "size=" + size).readOnly().start();
             PeerServer dst = PeerServer.nbdkit("memory", "size=" + size).start();
             NbdHandle sh = NbdHandle.create();
             NbdHandle dh = NbdHandle.create()) {
            NbdConnection s = await(sh.connect(UnixSockets.connect(src.socketPath())));
            NbdConnection d = await(dh.connect(UnixSockets.connect(dst.socketPath())));
            CountingDevice counted = new CountingDevice(s);
            CountingDevice written = new CountingDevice(d);
            int window = 4;
            Long copied = ReactorCopy.copy(counted, written, size, 256 * 1024, window).block(Duration.ofSeconds(60));
            assertEquals(size, copied);
            assertTrue(counted.maxReadsOutstanding.get() <= window, "reads in flight peaked at "
                    + counted.maxReadsOutstanding.get());
            assertTrue(written.maxWriteBytesOutstanding.get() <= window * 256L * 1024, "writes in flight peaked at "
                    + written.maxWriteBytesOutstanding.get());
            assertEquals(64, counted.reads.get());
            for (long at = 0; at < size; at += 1 << 20) {
                ByteBuf b = await(d.read(at, 1 << 20));
                try {
                    for (int k = 0; k < b.readableBytes(); k += 4096) {
                        assertEquals(at + k, b.getLong(b.readerIndex() + k), "pattern word at " + (at + k));
                    }
                } finally {
                    b.release();
                }
            }
        }
    }
}
