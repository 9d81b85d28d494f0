package io.nbdnetty.client;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.util.ReferenceCountUtil;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the client tests share: waiting for futures with a bound, expecting a typed failure, reading a buffer. */
final class TestSupport {
    /** How long a test waits for a future before failing: no test may hang. */
    static final long TIMEOUT_SECONDS = 20;

    private TestSupport() {
    }

    static <V> V await(CompletableFuture<V> f) throws Exception {
        return f.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    /** Asserts the future fails with a cause of the given type (releasing a buffer it might complete with). */
    static <E extends Throwable> E fails(Class<E> type, CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> {
            Object v = f.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            ReferenceCountUtil.release(v);
        });
        return assertInstanceOf(type, e.getCause(), () -> "cause: " + e.getCause());
    }

    /** Copies out and releases a buffer. */
    static byte[] bytes(ByteBuf b) {
        try {
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }

    /** Asserts the handle died: state DEAD, its channel closed, its futures completed. */
    static void assertDead(NbdHandle h) throws Exception {
        await(h.closeFuture());
        assertEquals(NbdState.DEAD, h.state());
        assertTrue(h.readyFuture().isDone());
        assertTrue(h.negotiatingFuture().isDone());
    }

    /** Recognisable bytes: {@code seed + 7 i} at index i. */
    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (seed + i * 7);
        }
        return b;
    }
}
