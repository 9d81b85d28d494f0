package io.nbdnetty.examples.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ResourceLeakDetector;

/** Buffers that Netty's leak detector does not track, for the messages a benchmark prepares once and reuses. */
final class Untracked {
    private Untracked() {
    }

    /**
     * Allocates a direct buffer with leak detection off for the moment. The detector samples one buffer in 128; a
     * prepared message that happened to be sampled would record a stack trace at every retain and release of each
     * operation (kilobytes per operation), so a run's allocation figure would depend on chance.
     *
     * @param alloc the allocator
     * @param capacity the capacity
     * @return the buffer
     */
    static synchronized ByteBuf directBuffer(ByteBufAllocator alloc, int capacity) {
        ResourceLeakDetector.Level level = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        try {
            return alloc.directBuffer(capacity);
        } finally {
            ResourceLeakDetector.setLevel(level);
        }
    }
}
