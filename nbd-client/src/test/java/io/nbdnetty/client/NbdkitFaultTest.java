package io.nbdnetty.client;

import io.nbdnetty.codec.NbdCommandType;
import io.nbdnetty.codec.NbdErrno;
import io.nbdnetty.testing.peers.PeerServer;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.nbdnetty.client.TestSupport.await;
import static io.nbdnetty.client.TestSupport.bytes;
import static io.nbdnetty.client.TestSupport.fails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The client against nbdkit filters that inject errors, delays, crashes and block size limits. */
class NbdkitFaultTest {

    /** nbdkit's pattern plugin: each 8-byte big-endian word holds its own offset. */
    private static void checkPattern(long offset, ByteBuf b) {
        try {
            for (int k = 0; k + 8 <= b.readableBytes(); k += 8) {
                assertEquals(offset + k, b.getLong(b.readerIndex() + k), "at " + (offset + k));
            }
        } finally {
            b.release();
        }
    }

    @Test
    void errorFilterFailsEveryReadWithEioWhileWritesSucceed() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M")
                .filter("error", "error-pread=EIO", "error-pread-rate=100%").start();
             NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                reads.add(c.read(i * 4096L, 4096));
            }
            for (CompletableFuture<ByteBuf> r : reads) {
                NbdCommandException e = fails(NbdCommandException.class, r);
                assertEquals(NbdErrno.EIO, e.error());
                assertEquals(NbdCommandType.READ, e.command());
            }
            await(c.write(0, Unpooled.wrappedBuffer(new byte[4096])));
            await(c.flush());
            assertEquals(NbdState.READY, h.state());
            fails(NbdCommandException.class, c.read(0, 512));
            assertEquals(NbdState.READY, h.state(), "a command error never kills the connection");
            assertEquals(17, c.stats().requestsFailed());
        }
    }

    @Test
    void errorFilterOnWritesOnlyFailsWritesWithTheChosenErrno() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=1M")
                .filter("error", "error-pwrite=ENOSPC", "error-pwrite-rate=100%").start();
             NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            NbdCommandException e = fails(NbdCommandException.class,
                    c.write(0, Unpooled.wrappedBuffer(new byte[512])));
            assertEquals(NbdErrno.ENOSPC, e.error());
            assertArrayEquals(new byte[512], bytes(await(c.read(0, 512))));
            assertEquals(NbdState.READY, h.state());
        }
    }

    @Test
    void manyDelayedReadsInFlightAllComplete() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("pattern", "size=16M").readOnly()
                .filter("delay", "rdelay=20ms").start();
             NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
            List<Long> offsets = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                long off = (i * 7919L % 4000) * 4096;
                offsets.add(off);
                reads.add(c.read(off, 4096));
            }
            for (int i = 0; i < reads.size(); i++) {
                checkPattern(offsets.get(i), reads.get(i).get(60, TimeUnit.SECONDS));
            }
            assertEquals(200, c.stats().requestsCompleted());
            assertEquals(0, c.inFlight());
            await(c.disconnect());
            assertEquals(NbdState.CLOSED, h.state());
        }
    }

    @Test
    void killingTheServerFailsEveryRequestInFlight() throws Exception {
        PeerServer server = PeerServer.nbdkit("pattern", "size=16M").readOnly()
                .filter("delay", "rdelay=30").start();
        try (NbdHandle h = NbdHandle.create(NbdClientConfig.builder().maxInFlightRequests(8).build())) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            List<CompletableFuture<?>> all = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                all.add(c.read(i * 512L, 512)); // 8 in flight, 12 queued
            }
            all.add(c.read(1 << 20, 64 << 10, 0 /* flags */));
            CompletableFuture<Void> capacity = c.awaitCapacity();
            assertFalse(capacity.isDone(), "the queue is full");
            server.kill();
            for (CompletableFuture<?> f : all) {
                fails(NbdConnectionClosedException.class, f);
            }
            fails(NbdConnectionClosedException.class, capacity);
            await(h.closeFuture());
            assertEquals(NbdState.DEAD, h.state());
            assertEquals(0, c.inFlight());
            assertEquals(0, c.stats().queued());
            fails(NbdConnectionClosedException.class, c.read(0, 512));
            await(c.disconnect());
        } finally {
            server.close();
        }
    }

    @Test
    void blocksizePolicyAdvertisesConstraintsAndStrictModeEnforcesThem() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("pattern", "size=4M").readOnly()
                .filter("blocksize-policy", "blocksize-minimum=512", "blocksize-preferred=4096",
                        "blocksize-maximum=64k", "blocksize-error-policy=error").start();
             NbdHandle strict = NbdHandle.create();
             NbdHandle lax = NbdHandle.create(NbdClientConfig.builder().strictMode(0).build())) {
            NbdConnection c = await(strict.connect(UnixSockets.connect(server.socketPath())));
            NbdExportInfo info = c.exportInfo();
            assertTrue(info.blockSizeAdvertised());
            assertEquals(512, info.minimumBlockSize());
            assertEquals(4096, info.preferredBlockSize());
            assertEquals(64 << 10, info.maximumBlockSize());

            NbdStrictModeException align = fails(NbdStrictModeException.class, c.read(1, 512));
            assertEquals(NbdStrict.ALIGN, align.check());
            assertEquals(NbdStrict.ALIGN, fails(NbdStrictModeException.class, c.read(512, 100)).check());
            NbdStrictModeException payload = fails(NbdStrictModeException.class, c.read(0, 128 << 10));
            assertEquals(NbdStrict.PAYLOAD, payload.check());
            checkPattern(512, await(c.read(512, 64 << 10)));
            assertEquals(0, c.stats().requestsSent() - 1, "refused requests were never sent");
            // Split where the caller asks for it: 1 MiB as 16 requests of the server's 64 KiB maximum.
            assertEquals(64 << 10, c.maxRequestLength());
            ByteBuf whole = await(c.readSplit(4096, 1 << 20, 0));
            assertEquals(1 << 20, whole.readableBytes());
            checkPattern(4096, whole);
            assertEquals(17, c.stats().requestsSent());

            // Without strict mode the server itself refuses them, and the connection carries on.
            NbdConnection l = await(lax.connect(UnixSockets.connect(server.socketPath())));
            assertEquals(NbdErrno.EINVAL, fails(NbdCommandException.class, l.read(1, 512)).error());
            assertEquals(NbdErrno.EINVAL, fails(NbdCommandException.class, l.read(0, 128 << 10)).error());
            checkPattern(4096, await(l.read(4096, 4096)));
            assertEquals(NbdState.READY, lax.state());
        }
    }

    @Test
    void blocksizeFilterHandlesUnalignedAndLargeRequestsTransparently() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=4M")
                .filter("blocksize", "minblock=512", "maxdata=64k").start();
             NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            byte[] data = new byte[300 << 10];
            new java.util.Random(5).nextBytes(data);
            await(c.write(3, Unpooled.wrappedBuffer(data)));
            assertArrayEquals(data, bytes(await(c.read(3, data.length))));
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 10, 20), bytes(await(c.read(13, 10))));
        }
    }

    @Test
    void splitWritesAndReadsRespectTheServerMaximum() throws Exception {
        try (PeerServer server = PeerServer.nbdkit("memory", "size=4M")
                .filter("blocksize-policy", "blocksize-minimum=512", "blocksize-preferred=4096",
                        "blocksize-maximum=64k", "blocksize-error-policy=error").start();
             NbdHandle h = NbdHandle.create()) {
            NbdConnection c = await(h.connect(UnixSockets.connect(server.socketPath())));
            byte[] data = new byte[300 << 10];
            new java.util.Random(9).nextBytes(data);
            NbdStrictModeException tooBig = fails(NbdStrictModeException.class,
                    c.write(0, Unpooled.wrappedBuffer(data.clone())));
            assertEquals(NbdStrict.PAYLOAD, tooBig.check());
            await(c.writeSplit(512, Unpooled.wrappedBuffer(data), 0));
            assertEquals(5, c.stats().requestsSent(), "300 KiB as four 64 KiB writes and one of 44 KiB");
            assertArrayEquals(data, bytes(await(c.readSplit(512, data.length, 0))));
        }
    }
}
