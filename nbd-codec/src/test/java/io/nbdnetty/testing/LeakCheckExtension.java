package io.nbdnetty.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.List;

/**
 * Fails a test class when Netty's leak detector reported a leaked buffer while (or before) it ran.
 *
 * <p>Registered for every test class by JUnit's extension auto-detection (see the parent pom). Leaks are found by the
 * garbage collector, so after each class this forces a few collections and allocations (the detector reports on
 * allocation), then fails if {@link RecordingLeakDetector} recorded anything.
 */
public final class LeakCheckExtension implements AfterAllCallback {

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        assertNoLeaks(context.getDisplayName());
    }

    /**
     * Forces the leak detector to report, then fails if it reported anything. For test engines that do not use
     * JUnit Jupiter extensions (jqwik: call it from an {@code @AfterContainer} method).
     *
     * @param where the name of what ran, for the message
     * @throws InterruptedException if interrupted while waiting for the collector
     */
    public static void assertNoLeaks(String where) throws InterruptedException {
        if (ResourceLeakDetector.getLevel() != ResourceLeakDetector.Level.PARANOID) {
            throw new AssertionError("tests must run with -Dio.netty.leakDetection.level=paranoid, not "
                    + ResourceLeakDetector.getLevel());
        }
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(20);
            ByteBuf a = PooledByteBufAllocator.DEFAULT.buffer(1);
            ByteBuf b = UnpooledByteBufAllocator.DEFAULT.buffer(1);
            ByteBuf c = PooledByteBufAllocator.DEFAULT.directBuffer(1);
            a.release();
            b.release();
            c.release();
        }
        List<String> leaks = RecordingLeakDetector.drain();
        if (!leaks.isEmpty()) {
            throw new AssertionError(leaks.size() + " leaked buffer(s) reported while running "
                    + where + ":\n" + String.join("\n", leaks));
        }
    }
}
