package io.nbdnetty.client.copy;

import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.internal.ConfigChecks;
import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Copies a {@link CopySource} onto a {@link CopyTarget}: the one copy engine of {@code nbd copy} and
 * {@link io.nbdnetty.client.backup.NbdBackup}.
 *
 * <p>The calling thread plans (the source's {@link CopySource#regions regions}, a batch at a time) and keeps a bounded
 * window of operations in flight: at most {@link Builder#window(int)} operations, and at most
 * {@link Builder#maxInFlightBytes(long)} bytes read but not yet written. Data moves in reads of at most
 * {@link Builder#requestSize(long)} (capped by both ends' {@code maxRequest()}). For an asynchronous target each read
 * is handed straight to the write on the thread that completes it (the buffer's ownership passes to the write), and
 * the calling thread is woken once a batch of operations has completed; a synchronous target is written on the
 * calling thread when the oldest operation completes, in order, so a stream gets the bytes in sequence.
 *
 * <p>Rules: a zero region is skipped where the target {@link CopyTarget#skipZeroes() already reads as zeroes}, and
 * zeroed otherwise; with {@link Builder#sparse(long)}, aligned all-zero blocks found in the data are skipped or
 * zeroed likewise where the target skips zeroes or {@link CopyTarget#zeroesCheaply() zeroes cheaply}; a source larger
 * than a target that cannot grow is refused before anything is written; the target is flushed at the end when asked.
 * The first failure stops issuing new work; the copy then waits for the work in flight, releases every buffer and
 * throws a {@link CopyException} naming the range.
 *
 * <p>A {@code Copier} holds only its settings and may run any number of copies, each on its own calling thread (never
 * an event loop: it blocks); thread-safe.
 */
public final class Copier {
    /** How much of a source one {@link CopySource#regions} call plans at a time. */
    static final long PLAN_BATCH = 1L << 30;

    /** Told how far a copy got; called from the copying thread only. */
    public interface Progress {
        /**
         * Called once the target is prepared, before any data moves.
         *
         * @param size the source's size, or -1 for a stream
         */
        default void started(long size) {
        }

        /**
         * Called as operations complete, from the copying thread.
         *
         * @param done bytes done so far (copied, zeroed or skipped)
         */
        void update(long done);

        /**
         * Called once at the end, after {@link #started}, whether the copy succeeded or not.
         *
         * @param done bytes done
         */
        default void finished(long done) {
        }
    }

    /**
     * What a copy did.
     *
     * @param bytesCopied data bytes read and written (blocks of zeroes found in them and skipped or zeroed included)
     * @param bytesZeroed bytes of zero regions zeroed on the target
     * @param bytesSkipped bytes of zero regions left alone because the target already reads as zeroes there
     */
    public record Result(long bytesCopied, long bytesZeroed, long bytesSkipped) {
    }

    final long requestSize;
    final int window;
    final long maxInFlightBytes;
    final long sparse;
    final boolean flush;

    private Copier(Builder b) {
        this.requestSize = b.requestSize;
        this.window = b.window;
        this.maxInFlightBytes = b.maxInFlightBytes;
        this.sparse = b.sparse;
        this.flush = b.flush;
    }

    /**
     * Starts describing a copier.
     *
     * @return a builder with the defaults: 512 KiB requests, a window of 64, no byte bound, no sparse detection, no
     *     flush
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Copies; blocks the calling thread until done. Neither end is closed.
     *
     * @param source the source
     * @param target the target
     * @param progress told how far it got; may be null
     * @return what was done
     * @throws Exception a {@link CopyException} if an operation failed, or what the target's preparation or flush
     *     threw, or an {@link NbdException} if the target is too small
     */
    public Result copy(CopySource source, CopyTarget target, Progress progress) throws Exception {
        return new CopyRun(this, source, target, progress).run();
    }

    /**
     * Describes a copier. Not thread-safe; the built copier is.
     */
    public static final class Builder {
        private long requestSize = 512 << 10;
        private int window = 64;
        private long maxInFlightBytes = Long.MAX_VALUE;
        private long sparse;
        private boolean flush;

        private Builder() {
        }

        /**
         * Sets the largest read and write (further capped by both ends).
         *
         * @param bytes at least 1
         * @return this builder
         */
        public Builder requestSize(long bytes) {
            this.requestSize = ConfigChecks.atLeast(bytes, 1, "requestSize");
            return this;
        }

        /**
         * Sets how many operations may be in flight at once.
         *
         * @param operations at least 1
         * @return this builder
         */
        public Builder window(int operations) {
            this.window = (int) ConfigChecks.atLeast(operations, 1, "window");
            return this;
        }

        /**
         * Bounds the bytes read and not yet written (one read is always allowed).
         *
         * @param bytes at least 1; unbounded unless set
         * @return this builder
         */
        public Builder maxInFlightBytes(long bytes) {
            this.maxInFlightBytes = ConfigChecks.atLeast(bytes, 1, "maxInFlightBytes");
            return this;
        }

        /**
         * Turns aligned blocks of this many zero bytes in the data into skipped ranges or zeroing, where the target
         * skips zeroes or zeroes cheaply.
         *
         * @param blockSize 0 (off, the default) or a power of 2
         * @return this builder
         */
        public Builder sparse(long blockSize) {
            if (blockSize < 0 || (blockSize & (blockSize - 1)) != 0) {
                throw new IllegalArgumentException("sparse must be 0 or a power of 2: " + blockSize);
            }
            this.sparse = blockSize;
            return this;
        }

        /**
         * Flushes the target at the end of a copy that succeeded.
         *
         * @param flush true to flush (off by default)
         * @return this builder
         */
        public Builder flush(boolean flush) {
            this.flush = flush;
            return this;
        }

        /**
         * Builds the copier.
         *
         * @return the copier
         */
        public Copier build() {
            return new Copier(this);
        }
    }

    static <T> T await(CompletableFuture<T> f) throws Exception {
        try {
            return f.get();
        } catch (ExecutionException | CompletionException e) {
            throw unwrap(e);
        }
    }

    /**
     * Strips {@link ExecutionException} and {@link CompletionException} wrappers.
     *
     * @param e a failure
     * @return the first cause that is neither, as an exception
     */
    static Exception unwrap(Throwable e) {
        Throwable t = e;
        while ((t instanceof ExecutionException || t instanceof CompletionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t instanceof Exception ex ? ex : new CompletionException(t);
    }

    /** Zeroes to compare against; read-only, so shared by every thread. */
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();

    /**
     * Whether {@code length} bytes from {@code index} are all zero. Compares the buffer's NIO views with
     * {@link ByteBuffer#mismatch} (vectorised by the JVM) instead of calling {@code getLong} per 8 bytes through
     * the ByteBuf API, which costs a virtual call each, and with the leak detector at paranoid a recorded trace.
     *
     * @param b the buffer
     * @param index where to start
     * @param length how many bytes
     * @return true if they are all zero
     */
    public static boolean isZero(ByteBuf b, int index, int length) {
        for (ByteBuffer nio : b.nioBuffers(index, length)) {
            for (int at = nio.position(); at < nio.limit(); at += ZEROES.capacity()) {
                int n = Math.min(nio.limit() - at, ZEROES.capacity());
                if (nio.slice(at, n).mismatch(ZEROES.slice(0, n)) != -1) {
                    return false;
                }
            }
        }
        return true;
    }
}
