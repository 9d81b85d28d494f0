package io.nbdnetty.client;

import io.nbdnetty.client.internal.Request;
import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.codec.NbdCommandType;
import io.nbdnetty.codec.NbdErrno;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The transmission handler on its own, in an {@link io.netty.channel.embedded.EmbeddedChannel} (as Netty's
 * codec-http2 tests its frame codec): requests out and replies in as bytes, written from the spec (proto.md,
 * "Transmission": request magic 0x25609513, simple reply magic 0x67446698), no socket, no sleep.
 */
class TransmissionHandlerTest {
    private static Request<ByteBuf> read(long offset, int length) {
        return new Request<>(ByteBuf.class, NbdCommandType.READ, 0, offset, length, null, null);
    }

    private static Request<Void> flush() {
        return new Request<>(Void.class, NbdCommandType.FLUSH, 0, 0, 0, null, null);
    }

    @Test
    void aReadGoesOutAsTheSpecsRequestAndItsSimpleReplyCompletesItWithTheData() {
        try (EmbeddedTransmission e = new EmbeddedTransmission(NbdReplyStyle.SIMPLE)) {
            CompletableFuture<ByteBuf> f = e.handler.submit(read(4096, 4), NbdCommandFlags.DF);
            // magic, flags 0, type READ (0), cookie 1, offset 4096, length 4
            assertEquals("25609513" + "0000" + "0000" + "0000000000000001" + "0000000000001000" + "00000004",
                    e.written());
            assertFalse(f.isDone());
            assertEquals(1, e.handler.inFlight());
            e.receive("67446698 00000000 0000000000000001 deadbeef");
            ByteBuf data = f.join();
            try {
                assertEquals("deadbeef", ByteBufUtil.hexDump(data));
            } finally {
                data.release();
            }
            assertEquals(0, e.handler.inFlight());
            assertTrue(e.failures.isEmpty());
            NbdStats s = e.handler.stats();
            assertEquals(1, s.requestsSent());
            assertEquals(1, s.requestsCompleted());
            assertEquals(16 + 4, s.bytesReceived());
        }
    }

    @Test
    void aWriteCarriesItsPayloadAfterTheHeaderAndCookiesCountUp() {
        try (EmbeddedTransmission e = new EmbeddedTransmission(NbdReplyStyle.SIMPLE)) {
            e.handler.submit(flush(), 0);
            ByteBuf payload = Unpooled.wrappedBuffer(new byte[] {1, 2, 3});
            CompletableFuture<Void> w = e.handler.submit(new Request<>(Void.class, NbdCommandType.WRITE,
                    NbdCommandFlags.FUA, 512, 3, payload, null), NbdCommandFlags.FUA);
            // FLUSH (type 3) cookie 1; WRITE (type 1) with FUA (flag 1) cookie 2, offset 512, length 3, payload
            assertEquals("25609513" + "0000" + "0003" + "0000000000000001" + "0000000000000000" + "00000000"
                    + "25609513" + "0001" + "0001" + "0000000000000002" + "0000000000000200" + "00000003"
                    + "010203", e.written());
            e.receive("67446698 00000000 0000000000000002");
            assertTrue(w.isDone() && !w.isCompletedExceptionally());
            assertEquals(1, e.handler.inFlight(), "the FLUSH still waits: replies match by cookie, in any order");
        }
    }

    @Test
    void anErrorReplyFailsThatRequestOnlyAndTheConnectionCarriesOn() {
        try (EmbeddedTransmission e = new EmbeddedTransmission(NbdReplyStyle.SIMPLE)) {
            CompletableFuture<ByteBuf> bad = e.handler.submit(read(0, 8), 0);
            CompletableFuture<ByteBuf> good = e.handler.submit(read(8, 1), 0);
            e.written();
            e.receive("67446698 00000005 0000000000000001"); // EIO (5): no data follows an error
            NbdCommandException x = assertInstanceOf(NbdCommandException.class,
                    assertThrows(CompletionException.class, bad::join).getCause());
            assertEquals(NbdErrno.EIO, x.error());
            e.receive("67446698 00000000 0000000000000002 7f");
            ByteBuf data = good.join();
            assertEquals(0x7f, data.getByte(0));
            data.release();
            assertTrue(e.failures.isEmpty());
        }
    }

    @Test
    void aReplyForACookieNotInFlightIsAProtocolErrorThatFailsEveryPendingRequestInOrder() {
        try (EmbeddedTransmission e = new EmbeddedTransmission(NbdReplyStyle.SIMPLE)) {
            CompletableFuture<ByteBuf> first = e.handler.submit(read(0, 1), 0);
            CompletableFuture<Void> second = e.handler.submit(flush(), 0);
            e.written();
            e.receive("67446698 00000000 0000000000000063");
            assertEquals(1, e.failures.size());
            assertInstanceOf(NbdProtocolException.class, e.failures.get(0));
            assertTrue(e.failures.get(0).getMessage().contains("unknown cookie 99"), e.failures.get(0).getMessage());
            assertTrue(first.isCompletedExceptionally() && second.isCompletedExceptionally());
            // After the end, a new request fails at once with the same cause, and nothing is written.
            CompletableFuture<Void> late = e.handler.submit(flush(), 0);
            assertEquals(e.failures.get(0), assertThrows(CompletionException.class, late::join).getCause());
            assertEquals("", e.written());
        }
    }

    @Test
    void theServerClosingTheConnectionFailsPendingRequestsAsClosed() {
        try (EmbeddedTransmission e = new EmbeddedTransmission(NbdReplyStyle.SIMPLE)) {
            CompletableFuture<Void> f = e.handler.submit(flush(), 0);
            e.written();
            e.channel.pipeline().fireChannelInactive();
            assertInstanceOf(NbdConnectionClosedException.class,
                    assertThrows(CompletionException.class, f::join).getCause());
            assertEquals("the server closed the connection", e.failures.get(0).getMessage());
        }
    }

    @Test
    void overTheInFlightLimitRequestsWaitInTheQueueUntilAReplyMakesRoom() {
        NbdClientConfig config = NbdClientConfig.builder().maxInFlightRequests(1).build();
        try (EmbeddedTransmission e = new EmbeddedTransmission(NbdReplyStyle.SIMPLE, config,
                java.util.List.of())) {
            e.handler.submit(flush(), 0);
            CompletableFuture<Void> second = e.handler.submit(flush(), 0);
            assertEquals(56, e.written().length(), "one request of 28 bytes (56 hex digits) out, not two");
            assertEquals(1, e.handler.stats().queued());
            e.receive("67446698 00000000 0000000000000001");
            assertEquals("25609513" + "0000" + "0003" + "0000000000000002" + "0000000000000000" + "00000000",
                    e.written(), "the queued FLUSH goes out once the first reply made room");
            e.receive("67446698 00000000 0000000000000002");
            assertTrue(second.isDone() && !second.isCompletedExceptionally());
        }
    }

    @Test
    void aSoftDisconnectWaitsForRequestsInFlightThenSendsDisc() {
        try (EmbeddedTransmission e = new EmbeddedTransmission(NbdReplyStyle.SIMPLE)) {
            e.handler.submit(flush(), 0);
            e.written();
            CompletableFuture<Void> d = e.handler.disconnect();
            assertEquals("", e.written(), "nothing until the FLUSH has its reply");
            e.receive("67446698 00000000 0000000000000001");
            // NBD_CMD_DISC (type 2), cookie 2
            assertEquals("25609513" + "0000" + "0002" + "0000000000000002" + "0000000000000000" + "00000000",
                    e.written());
            assertEquals(1, e.markedClosed);
            assertTrue(d.isDone());
        }
    }
}
