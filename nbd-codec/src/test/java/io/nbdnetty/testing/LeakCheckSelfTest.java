package io.nbdnetty.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Proves that a leaked buffer is seen by {@link RecordingLeakDetector}, so {@link LeakCheckExtension} can fail. */
class LeakCheckSelfTest {

    @Test
    void leakedBufferIsRecorded() throws Exception {
        leakOne();
        boolean seen = false;
        for (int i = 0; i < 50 && !seen; i++) {
            System.gc();
            Thread.sleep(10);
            PooledByteBufAllocator.DEFAULT.buffer(1).release();
            List<String> leaks = RecordingLeakDetector.drain();
            seen = leaks.stream().anyMatch(l -> l.contains("LEAK"));
        }
        assertTrue(seen, "a deliberately leaked buffer was not reported by the leak detector");
    }

    private static void leakOne() {
        ByteBuf leaked = PooledByteBufAllocator.DEFAULT.buffer(16);
        leaked.writeLong(42);
        // deliberately not released
    }
}
