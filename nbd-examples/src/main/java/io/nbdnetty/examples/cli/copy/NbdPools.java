package io.nbdnetty.examples.cli.copy;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdUri;
import io.nbdnetty.client.device.NbdConnectionPool;
import io.nbdnetty.examples.cli.CliSupport;
import io.netty.channel.EventLoopGroup;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * The NBD ends of {@code nbd copy}: the first connection to each (timed, to learn the export's flags), then a pool of
 * connections around it. Used from the command's thread only.
 */
final class NbdPools {
    private final EventLoopGroup group;
    private final Consumer<String> notes;
    /** How long the first connection to an NBD end took, in nanoseconds (the longer of the two ends). */
    private long firstTook;

    NbdPools(EventLoopGroup group, Consumer<String> notes) {
        this.group = group;
        this.notes = notes;
    }

    /** Opens the first connection to an end, timing it. */
    NbdConnection first(NbdUri uri, NbdClientConfig config) throws Exception {
        long began = System.nanoTime();
        NbdConnection c = CliSupport.awaitConnection(uri, CliSupport.connect(uri, config, group));
        firstTook = Math.max(firstTook, System.nanoTime() - began);
        return c;
    }

    /**
     * A pool whose first connection is the one already open (to learn the export's flags). A server that takes fewer
     * connections than asked gets the ones it completed, with a note: the others have as long as the first took
     * (twice, and at least the pool's default) once they have started.
     */
    NbdConnectionPool pool(int n, NbdConnection first, NbdUri uri, NbdClientConfig config, String name)
            throws Exception {
        AtomicBoolean firstGiven = new AtomicBoolean();
        Duration extraWait = Duration.ofNanos(Math.max(NbdConnectionPool.DEFAULT_EXTRA_WAIT.toNanos(), 2 * firstTook));
        NbdConnectionPool pool = CliSupport.await(NbdConnectionPool.open(n, () -> firstGiven.compareAndSet(false,
                true) ? CompletableFuture.completedFuture(first) : CliSupport.connect(uri, config, group),
                extraWait));
        if (!pool.shortfall().isEmpty()) {
            int got = pool.connections().size();
            notes.accept(name + " accepted " + got + " of " + n + " connections ("
                    + pool.shortfall().get(0).getMessage() + "): using " + got);
        }
        return pool;
    }

    /** Says goodbye to a pool's server and closes it. */
    static void close(NbdConnectionPool pool) {
        try {
            CliSupport.await(pool.disconnect());
        } catch (Exception ignored) {
            // Closing anyway.
        } finally {
            pool.close();
        }
    }

    /** Closes a first connection that never made it into a pool. */
    static void closeQuietly(NbdConnection c) {
        if (c != null) {
            c.handle().close();
        }
    }
}
