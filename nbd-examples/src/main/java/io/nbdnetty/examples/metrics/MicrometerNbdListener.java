package io.nbdnetty.examples.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.nbdnetty.client.NbdListener;
import io.nbdnetty.codec.NbdCommandType;

import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;

/**
 * Records an NBD client's requests in Micrometer. Set it with {@code NbdClientConfig.builder().listener(new
 * MicrometerNbdListener(registry, Tags.of("export", name)))}; one instance may serve many connections.
 *
 * <p>Meters (all with the given common tags):
 * <ul>
 *   <li>{@code nbd.client.requests} (Timer), tags {@code command} (e.g. {@code NBD_CMD_READ}) and {@code outcome}
 *       ({@code success} or {@code error}): latency from sending to completion;</li>
 *   <li>{@code nbd.client.bytes} (Counter), tag {@code direction} ({@code read} or {@code write}): payload bytes of
 *       successful reads and writes;</li>
 *   <li>{@code nbd.client.errors} (Counter), tags {@code command} and {@code exception} (the simple class name,
 *       e.g. {@code NbdCommandException}, {@code NbdTimeoutException});</li>
 *   <li>{@code nbd.client.connections.closed} (Counter): connections that failed or closed.</li>
 * </ul>
 *
 * <p>Called on event loops: meters are looked up once and cached, so recording is a map lookup and an add.
 */
public final class MicrometerNbdListener implements NbdListener {
    /** The request timer's name. */
    public static final String REQUESTS = "nbd.client.requests";
    /** The byte counter's name. */
    public static final String BYTES = "nbd.client.bytes";
    /** The error counter's name. */
    public static final String ERRORS = "nbd.client.errors";
    /** The closed-connection counter's name. */
    public static final String CONNECTIONS_CLOSED = "nbd.client.connections.closed";

    private final MeterRegistry registry;
    private final Tags tags;
    private final ConcurrentMap<String, Timer> timers = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> errors = new ConcurrentHashMap<>();
    private final Counter bytesRead;
    private final Counter bytesWritten;
    private final Counter closed;

    /**
     * Creates the binding.
     *
     * @param registry where the meters go
     * @param tags common tags for every meter, e.g. the export name
     */
    public MicrometerNbdListener(MeterRegistry registry, Iterable<Tag> tags) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.tags = Tags.of(tags);
        this.bytesRead = Counter.builder(BYTES).tags(this.tags).tag("direction", "read").baseUnit("bytes")
                .description("Payload bytes of successful NBD reads and writes").register(registry);
        this.bytesWritten = Counter.builder(BYTES).tags(this.tags).tag("direction", "write").baseUnit("bytes")
                .description("Payload bytes of successful NBD reads and writes").register(registry);
        this.closed = Counter.builder(CONNECTIONS_CLOSED).tags(this.tags)
                .description("NBD connections that failed or closed").register(registry);
    }

    /**
     * Creates the binding without common tags.
     *
     * @param registry where the meters go
     */
    public MicrometerNbdListener(MeterRegistry registry) {
        this(registry, Tags.empty());
    }

    @Override
    public void requestCompleted(NbdCommandType command, long offset, long length, long latencyNanos,
            Throwable error) {
        String outcome = error == null ? "success" : "error";
        timers.computeIfAbsent(command.name() + '/' + outcome, k -> Timer.builder(REQUESTS).tags(tags)
                .tag("command", command.name()).tag("outcome", outcome)
                .description("NBD request latency, from sending to completion").register(registry))
                .record(latencyNanos, TimeUnit.NANOSECONDS);
        if (error == null) {
            if (command.equals(NbdCommandType.READ)) {
                bytesRead.increment(length);
            } else if (command.equals(NbdCommandType.WRITE)) {
                bytesWritten.increment(length);
            }
            return;
        }
        String exception = error.getClass().getSimpleName();
        errors.computeIfAbsent(command.name() + '/' + exception, k -> Counter.builder(ERRORS).tags(tags)
                .tag("command", command.name()).tag("exception", exception)
                .description("Failed NBD requests").register(registry)).increment();
    }

    @Override
    public void connectionClosed(Throwable cause) {
        closed.increment();
    }
}
