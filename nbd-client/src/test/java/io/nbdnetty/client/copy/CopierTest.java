package io.nbdnetty.client.copy;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The copy engine against nbdkit's pattern plugin (each 8 bytes hold their own offset, big-endian). */
@Timeout(120)
class CopierTest {
    private static final long SIZE = 8L << 20;

    private static NbdHandle handle() {
        return NbdHandle.create(NbdClientConfig.builder().addMetaContext(NbdMetaContext.BASE_ALLOCATION).build());
    }

    /** A synchronous target that keeps what it is given in memory. */
    private static final class Memory implements CopyTarget {
        final byte[] data = new byte[(int) SIZE];
        final boolean[] touched = new boolean[(int) SIZE];

        @Override
        public long size() {
            return SIZE;
        }

        @Override
        public CompletableFuture<Void> write(long offset, ByteBuf b) {
            try {
                int n = b.readableBytes();
                b.getBytes(b.readerIndex(), data, (int) offset, n);
                java.util.Arrays.fill(touched, (int) offset, (int) offset + n, true);
                return CompletableFuture.completedFuture(null);
            } finally {
                b.release();
            }
        }

        @Override
        public CompletableFuture<Void> zero(long offset, long length) {
            java.util.Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
            java.util.Arrays.fill(touched, (int) offset, (int) (offset + length), true);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> flush() {
            return CompletableFuture.completedFuture(null);
        }
    }

    @Test
    void regionsLeftOutAreLeftAloneAndTheRestIsTheSourcesData() throws Exception {
        try (PeerServer s = PeerServer.nbdkit("pattern", "size=" + SIZE).start(); NbdHandle h = handle()) {
            NbdConnection c = h.connect(UnixSockets.connect(s.socketPath())).get();
            NbdEndpoint nbd = new NbdEndpoint("pattern", c, false, null);
            // Data at [1 MiB, 2 MiB + 12), zeroes at [4 MiB, 5 MiB), nothing else.
            CopySource planned = new CopySource() {
                @Override
                public long size() {
                    return SIZE;
                }

                @Override
                public List<Region> regions(long offset, long length) {
                    return List.of(new Region(1 << 20, (1 << 20) + 12, false), new Region(4 << 20, 1 << 20, true));
                }

                @Override
                public CompletableFuture<ByteBuf> read(long offset, int length) {
                    return nbd.read(offset, length);
                }
            };
            Memory m = new Memory();
            java.util.Arrays.fill(m.data, (byte) 0x55);
            Copier.Result r = Copier.builder().requestSize(100_000).window(3).build().copy(planned, m, null);
            assertEquals(new Copier.Result((1 << 20) + 12, 1 << 20, 0), r);
            ByteBuffer d = ByteBuffer.wrap(m.data);
            for (long at = 1 << 20; at < (2 << 20); at += 8) {
                assertEquals(at, d.getLong((int) at), "pattern at " + at);
            }
            for (int at = 0; at < SIZE; at++) {
                boolean inData = at >= (1 << 20) && at < (2 << 20) + 12;
                boolean inZero = at >= (4 << 20) && at < (5 << 20);
                assertEquals(inData || inZero, m.touched[at], "touched at " + at);
                if (inZero) {
                    assertEquals(0, m.data[at]);
                } else if (!inData) {
                    assertEquals(0x55, m.data[at]);
                }
            }
            c.disconnect().get();
        }
    }

    @Test
    void anAsyncTargetNeverHasMoreThanTheBoundInFlightAndAFailureNamesItsRange() throws Exception {
        ScheduledExecutorService later = Executors.newSingleThreadScheduledExecutor();
        try (PeerServer s = PeerServer.nbdkit("pattern", "size=" + SIZE).start(); NbdHandle h = handle()) {
            NbdConnection c = h.connect(UnixSockets.connect(s.socketPath())).get();
            AtomicLong inFlight = new AtomicLong();
            AtomicLong most = new AtomicLong();
            List<Long> written = java.util.Collections.synchronizedList(new ArrayList<>());
            CopyTarget slow = new CopyTarget() {
                @Override
                public long size() {
                    return SIZE;
                }

                @Override
                public boolean async() {
                    return true;
                }

                @Override
                public CompletableFuture<Void> write(long offset, ByteBuf data) {
                    long n = data.readableBytes();
                    most.accumulateAndGet(inFlight.addAndGet(n), Math::max);
                    data.release();
                    CompletableFuture<Void> f = new CompletableFuture<>();
                    later.schedule(() -> {
                        inFlight.addAndGet(-n);
                        written.add(offset);
                        if (offset == (3L << 20)) {
                            f.completeExceptionally(new IOException("disk full"));
                        } else {
                            f.complete(null);
                        }
                    }, 1, TimeUnit.MILLISECONDS);
                    return f;
                }

                @Override
                public CompletableFuture<Void> zero(long offset, long length) {
                    return CompletableFuture.completedFuture(null);
                }

                @Override
                public CompletableFuture<Void> flush() {
                    return CompletableFuture.completedFuture(null);
                }
            };
            Copier copier = Copier.builder().requestSize(64 << 10).window(64).maxInFlightBytes(256 << 10).build();
            CopyException e = assertThrows(CopyException.class,
                    () -> copier.copy(new NbdEndpoint("pattern", c, true, null), slow, null));
            assertTrue(e.getMessage().startsWith("copying 65536 bytes at offset 3145728: disk full"), e.getMessage());
            assertInstanceOf(IOException.class, e.getCause());
            assertTrue(most.get() <= (256 << 10), "at most 256 KiB in flight, saw " + most.get());
            assertEquals(0, inFlight.get(), "the copy waited for what was in flight");
            assertTrue(written.size() < SIZE / (64 << 10), "stopped issuing after the failure: " + written.size());
            c.disconnect().get();
        } finally {
            later.shutdownNow();
        }
    }
}
