package io.nbdnetty.examples.bench;

import io.netty.util.concurrent.DefaultThreadFactory;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A JMH executor whose worker threads are Netty {@code FastThreadLocalThread}s, as event loop threads are.
 *
 * <p>Netty 4.2's {@code Recycler} pools objects (pooled buffers and their slices and duplicates, the channel's
 * outbound entries) only on threads that clean up their fast thread-locals; on any other thread it allocates a new
 * object each time. The client's read path runs on an event loop, so a benchmark of it on JMH's plain worker
 * threads would count allocations that never happen in use. Selected with {@code -Djmh.executor=CUSTOM
 * -Djmh.executor.class=io.nbdnetty.examples.bench.FastThreadLocalExecutor} (the benchmarks' {@code @Fork} does).
 */
public final class FastThreadLocalExecutor extends ThreadPoolExecutor {
    /**
     * The constructor JMH calls.
     *
     * @param maxThreads how many worker threads
     * @param prefix the thread name prefix
     */
    public FastThreadLocalExecutor(int maxThreads, String prefix) {
        super(maxThreads, maxThreads, 1, TimeUnit.MINUTES, new LinkedBlockingQueue<>(),
                new DefaultThreadFactory(prefix, true));
    }
}
