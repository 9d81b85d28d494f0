package io.nbdnetty.testing;

import io.netty.util.ResourceLeakDetector;

import java.util.ArrayList;
import java.util.List;

/**
 * A Netty leak detector that remembers every leak it reports, so that tests can fail on them.
 *
 * <p>Installed for every test JVM through {@code -Dio.netty.customResourceLeakDetector} (see the parent pom);
 * {@link LeakCheckExtension} reads and clears the records after each test class.
 */
public final class RecordingLeakDetector<T> extends ResourceLeakDetector<T> {
    private static final List<String> LEAKS = new ArrayList<>();

    /**
     * Called by Netty's detector factory.
     *
     * @param resourceType the tracked type
     * @param samplingInterval the sampling interval
     */
    public RecordingLeakDetector(Class<?> resourceType, int samplingInterval) {
        super(resourceType, samplingInterval);
    }

    /**
     * Called by Netty's detector factory (older signature).
     *
     * @param resourceType the tracked type
     * @param samplingInterval the sampling interval
     * @param maxActive ignored
     */
    public RecordingLeakDetector(Class<?> resourceType, int samplingInterval, long maxActive) {
        super(resourceType, samplingInterval);
    }

    @Override
    protected void reportTracedLeak(String resourceType, String records) {
        record("LEAK: " + resourceType + " was not released" + records);
        super.reportTracedLeak(resourceType, records);
    }

    @Override
    protected void reportUntracedLeak(String resourceType) {
        record("LEAK: " + resourceType + " was not released (untraced)");
        super.reportUntracedLeak(resourceType);
    }

    private static void record(String leak) {
        synchronized (LEAKS) {
            LEAKS.add(leak);
        }
    }

    /**
     * Returns and forgets the leaks reported so far.
     *
     * @return the reports, oldest first
     */
    public static List<String> drain() {
        synchronized (LEAKS) {
            List<String> copy = new ArrayList<>(LEAKS);
            LEAKS.clear();
            return copy;
        }
    }
}
