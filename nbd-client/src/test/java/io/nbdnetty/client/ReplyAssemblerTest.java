package io.nbdnetty.client;

import io.nbdnetty.client.internal.Request;
import io.nbdnetty.codec.NbdCommandType;
import io.nbdnetty.codec.NbdErrno;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reply assembly (structured replies: proto.md, "Structured reply chunk message", magic 0x668e33ef, then 16-bit
 * flags, 16-bit type, 64-bit cookie, 32-bit length) through the transmission handler in an {@link
 * io.netty.channel.embedded.EmbeddedChannel}: chunks in as the spec's bytes, the value each request completes with
 * out; no socket, no sleep.
 */
class ReplyAssemblerTest {
    private static final NbdMetaContext ALLOCATION = new NbdMetaContext(1, "base:allocation");

    private static EmbeddedTransmission structured() {
        return new EmbeddedTransmission(NbdReplyStyle.STRUCTURED, NbdClientConfig.builder().build(),
                List.of(ALLOCATION));
    }

    private static CompletableFuture<ByteBuf> read(EmbeddedTransmission e, long offset, int length) {
        CompletableFuture<ByteBuf> f = e.handler.submit(new Request<>(ByteBuf.class, NbdCommandType.READ, 0, offset,
                length, null, null), 0);
        e.written();
        return f;
    }

    private static Throwable failure(CompletableFuture<?> f) {
        return assertThrows(CompletionException.class, f::join).getCause();
    }

    @Test
    void aReadInChunksOutOfOrderWithAHoleIsAssembledInPlace() {
        try (EmbeddedTransmission e = structured()) {
            CompletableFuture<ByteBuf> f = read(e, 0, 8);
            // OFFSET_DATA (1), no flags, cookie 1, length 12: offset 4, then 4 bytes of data
            e.receive("668e33ef 0000 0001 0000000000000001 0000000c 0000000000000004 05060708");
            // OFFSET_HOLE (2), DONE, cookie 1, length 12: offset 0, hole size 4
            e.receive("668e33ef 0001 0002 0000000000000001 0000000c 0000000000000000 00000004");
            ByteBuf data = f.join();
            try {
                assertEquals("0000000005060708", ByteBufUtil.hexDump(data));
            } finally {
                data.release();
            }
            assertEquals(2, e.handler.stats().chunksReceived());
            assertTrue(e.failures.isEmpty());
        }
    }

    @Test
    void overlappingContentChunksAreAProtocolError() {
        try (EmbeddedTransmission e = structured()) {
            CompletableFuture<ByteBuf> f = read(e, 0, 8);
            e.receive("668e33ef 0000 0001 0000000000000001 0000000c 0000000000000000 01020304");
            e.receive("668e33ef 0001 0001 0000000000000001 0000000c 0000000000000002 05060708");
            assertInstanceOf(NbdProtocolException.class, failure(f));
            assertTrue(e.failures.get(0).getMessage().contains("overlaps an earlier chunk"),
                    e.failures.get(0).getMessage());
        }
    }

    @Test
    void aReadWhoseReplyEndsShortWithoutAnErrorIsAProtocolError() {
        try (EmbeddedTransmission e = structured()) {
            CompletableFuture<ByteBuf> f = read(e, 0, 8);
            e.receive("668e33ef 0001 0001 0000000000000001 0000000c 0000000000000000 01020304");
            assertInstanceOf(NbdProtocolException.class, failure(f));
            assertTrue(e.failures.get(0).getMessage().contains("covered 4 of 8 bytes"),
                    e.failures.get(0).getMessage());
        }
    }

    @Test
    void aSimpleReplyToAReadIsAProtocolErrorOnceStructuredRepliesWereNegotiated() {
        try (EmbeddedTransmission e = structured()) {
            CompletableFuture<ByteBuf> f = read(e, 0, 1);
            e.receive("67446698 00000000 0000000000000001 7f");
            assertInstanceOf(NbdProtocolException.class, failure(f));
        }
    }

    @Test
    void blockStatusExtentsReachTheCallerByContextName() {
        try (EmbeddedTransmission e = structured()) {
            CompletableFuture<NbdBlockStatus> f = e.handler.submit(new Request<>(NbdBlockStatus.class,
                    NbdCommandType.BLOCK_STATUS, 0, 0, 8192, null, null), 0);
            // BLOCK_STATUS (type 7), cookie 1, offset 0, length 8192
            assertEquals("25609513" + "0000" + "0007" + "0000000000000001" + "0000000000000000" + "00002000",
                    e.written());
            // BLOCK_STATUS chunk (5), DONE, length 20: context 1, then 4096 bytes of data, 4096 of hole+zero (3)
            e.receive("668e33ef 0001 0005 0000000000000001 00000014 00000001 00001000 00000000 00001000 00000003");
            NbdBlockStatus s = f.join();
            assertEquals(List.of(new NbdExtent(0, 4096, 0), new NbdExtent(4096, 4096, 3)),
                    List.copyOf(s.extents("base:allocation")));
        }
    }

    @Test
    void anErrorChunkFailsTheRequestWithTheServersErrorAndMessage() {
        try (EmbeddedTransmission e = structured()) {
            CompletableFuture<Void> f = e.handler.submit(new Request<>(Void.class, NbdCommandType.FLUSH, 0, 0, 0,
                    null, null), 0);
            e.written();
            // ERROR (0x8001), DONE, length 9: error 5 (EIO), message length 3, "bad"
            e.receive("668e33ef 0001 8001 0000000000000001 00000009 00000005 0003 626164");
            NbdCommandException x = assertInstanceOf(NbdCommandException.class, failure(f));
            assertEquals(NbdErrno.EIO, x.error());
            assertTrue(x.getMessage().contains("bad"), x.getMessage());
            assertTrue(e.failures.isEmpty(), "a command error leaves the connection up");
        }
    }
}
