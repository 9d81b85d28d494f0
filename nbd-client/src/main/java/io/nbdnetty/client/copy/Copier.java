package io.nbdnetty.client.copy;

import io.nbdnetty.client.NbdException;
import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;

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

    private final long requestSize;
    private final int window;
    private final long maxInFlightBytes;
    private final long sparse;
    private final boolean flush;

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
        return new Run(source, target, progress).run();
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
            if (bytes < 1) {
                throw new IllegalArgumentException("requestSize must be at least 1: " + bytes);
            }
            this.requestSize = bytes;
            return this;
        }

        /**
         * Sets how many operations may be in flight at once.
         *
         * @param operations at least 1
         * @return this builder
         */
        public Builder window(int operations) {
            if (operations < 1) {
                throw new IllegalArgumentException("window must be at least 1: " + operations);
            }
            this.window = operations;
            return this;
        }

        /**
         * Bounds the bytes read and not yet written (one read is always allowed).
         *
         * @param bytes at least 1; unbounded unless set
         * @return this builder
         */
        public Builder maxInFlightBytes(long bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("maxInFlightBytes must be at least 1: " + bytes);
            }
            this.maxInFlightBytes = bytes;
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

    // ---------------------------------------------------------------------------------------------------- one run

    /** One operation in the window. */
    private static final class Op {
        final long offset;
        final long length;
        final boolean zero;
        /** For a synchronous target, the data (null for zeroes); for an async one, the completed write. */
        final CompletableFuture<?> future;

        Op(long offset, long length, boolean zero, CompletableFuture<?> future) {
            this.offset = offset;
            this.length = length;
            this.zero = zero;
            this.future = future;
        }
    }

    /** One copy: the state of a {@link #copy} call, used from its thread (and the async counters from any). */
    private final class Run {
        private final CopySource src;
        private final CopyTarget dst;
        private final Progress bar;
        private final long request;
        private final boolean bytesBounded = maxInFlightBytes != Long.MAX_VALUE;
        private final ArrayDeque<Op> queue = new ArrayDeque<>();
        private long queueBytes;
        private final Object asyncLock = new Object();
        private final AtomicLong asyncCopied = new AtomicLong();
        private final AtomicLong asyncZeroed = new AtomicLong();
        // Guarded by asyncLock.
        private int asyncInFlight;
        private long asyncBytes;
        private NbdException asyncError;
        private long copied;
        private long zeroed;
        private long skipped;
        private long done;

        Run(CopySource src, CopyTarget dst, Progress bar) {
            this.src = src;
            this.dst = dst;
            this.bar = bar;
            this.request = Math.max(1, Math.min(requestSize, Math.min(src.maxRequest(), dst.maxRequest())));
        }

        Result run() throws Exception {
            long size = src.size();
            if (size >= 0 && dst.size() >= 0 && !dst.skipZeroes() && size > dst.size()) {
                throw new NbdException("destination size is smaller than source size (" + size + " > "
                        + dst.size() + ")");
            }
            dst.prepare(Math.max(size, 0));
            if (bar != null) {
                bar.started(size);
            }
            try {
                if (src.stream()) {
                    copyStream();
                } else {
                    for (long at = 0; at < size; at += PLAN_BATCH) {
                        for (Region r : src.regions(at, Math.min(PLAN_BATCH, size - at))) {
                            if (r.zero()) {
                                issueZero(r.offset(), r.length());
                            } else {
                                for (long o = r.offset(); o < r.end(); o += request) {
                                    issueData(o, (int) Math.min(request, r.end() - o));
                                }
                            }
                        }
                    }
                    drain();
                }
                if (flush) {
                    await(dst.flush());
                }
            } catch (Exception e) {
                abandon();
                throw e;
            } finally {
                if (bar != null) {
                    bar.finished(done);
                }
            }
            return new Result(copied + asyncCopied.get(), zeroed + asyncZeroed.get(), skipped);
        }

        private void copyStream() throws Exception {
            long offset = 0;
            long limit = dst.skipZeroes() || dst.size() < 0 ? Long.MAX_VALUE : dst.size();
            while (true) {
                ByteBuf buf = src.read(offset, (int) request).join();
                int n = buf.readableBytes();
                if (n == 0) {
                    buf.release();
                    break;
                }
                if (offset + n > limit) {
                    buf.release();
                    throw new NbdException("destination size is smaller than source size (" + limit + " bytes)");
                }
                if (!dst.async()) {
                    waitForRoom(n);
                }
                issue(new Op(offset, n, false, dataFuture(offset, CompletableFuture.completedFuture(buf))));
                offset += n;
                if (n < request) {
                    break;
                }
            }
            drain();
            dst.finish(offset);
        }

        private void issueData(long offset, int length) throws Exception {
            if (dst.async()) {
                if (bytesBounded) {
                    acquireAsync(length);
                }
            } else {
                waitForRoom(length);
            }
            CompletableFuture<ByteBuf> read;
            try {
                read = src.read(offset, length);
            } catch (Exception e) {
                if (dst.async() && bytesBounded) {
                    releaseAsync(null, length, false, null);
                }
                throw new CopyException("reading " + src + " at offset " + offset + ": " + e.getMessage(), e);
            }
            Op op = new Op(offset, length, false, dataFuture(offset, read));
            if (dst.async() && bytesBounded) {
                whenDone(op);
            } else {
                issue(op);
            }
        }

        private CompletableFuture<?> dataFuture(long offset, CompletableFuture<ByteBuf> read) {
            if (!dst.async()) {
                return read;
            }
            // Async target: hand the buffer straight to the write, on the event loop.
            return read.thenCompose(buf -> writeSparse(offset, buf));
        }

        private void issueZero(long offset, long length) throws Exception {
            if (dst.skipZeroes()) {
                skipped += length;
                done += length;
                tick();
                return;
            }
            if (!dst.async()) {
                waitForRoom(0);
            }
            CompletableFuture<Void> f;
            if (dst.async()) {
                try {
                    f = dst.zero(offset, length);
                } catch (Exception e) {
                    f = CompletableFuture.failedFuture(e);
                }
            } else {
                f = null;
            }
            issue(new Op(offset, length, true, f));
        }

        private void issue(Op op) throws Exception {
            if (dst.async()) {
                acquireAsync(op.zero ? 0 : op.length);
                whenDone(op);
                return;
            }
            queue.addLast(op);
            if (!op.zero) {
                queueBytes += op.length;
            }
            waitForRoom(0);
        }

        /**
         * Async target: the whole copy runs on the event loops. This thread only plans and issues; it waits while
         * the window is full and is woken once a batch of operations has completed, not after each one (and never
         * waits for the oldest operation in particular).
         */
        private void acquireAsync(long bytes) throws Exception {
            synchronized (asyncLock) {
                while (asyncError == null && (asyncInFlight >= window
                        || (asyncBytes > 0 && asyncBytes + bytes > maxInFlightBytes))) {
                    asyncLock.wait();
                }
                throwAsyncError();
                asyncInFlight++;
                asyncBytes += bytes;
            }
        }

        private void whenDone(Op op) {
            op.future.whenComplete((v, e) -> releaseAsync(op, op.zero ? 0 : op.length, op.zero, e));
            done = asyncCopied.get() + asyncZeroed.get() + skipped;
            tick();
        }

        private void releaseAsync(Op op, long bytes, boolean zero, Throwable e) {
            if (op != null) {
                (zero ? asyncZeroed : asyncCopied).addAndGet(op.length);
            }
            synchronized (asyncLock) {
                asyncInFlight--;
                asyncBytes -= bytes;
                if (e != null && asyncError == null) {
                    Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                    asyncError = new CopyException("copying " + op.length + " bytes at offset " + op.offset + ": "
                            + (cause.getMessage() != null ? cause.getMessage() : cause), cause);
                }
                if (asyncInFlight <= window - Math.max(1, window / 8) || asyncInFlight == 0 || asyncError != null
                        || bytesBounded) {
                    asyncLock.notifyAll();
                }
            }
        }

        private void throwAsyncError() throws NbdException {
            if (asyncError != null) {
                throw asyncError;
            }
        }

        /** Synchronous target: completes the oldest operations until one of {@code bytes} more fits. */
        private void waitForRoom(long bytes) throws Exception {
            while (queue.size() >= window
                    || (bytesBounded && queueBytes > 0 && queueBytes + bytes > maxInFlightBytes)) {
                completeHead();
            }
        }

        private void drain() throws Exception {
            if (dst.async()) {
                synchronized (asyncLock) {
                    while (asyncInFlight > 0) {
                        asyncLock.wait();
                    }
                    throwAsyncError();
                }
                done = asyncCopied.get() + asyncZeroed.get() + skipped;
                tick();
                return;
            }
            while (!queue.isEmpty()) {
                completeHead();
            }
        }

        private void completeHead() throws Exception {
            Op op = queue.peekFirst();
            try {
                if (op.zero) {
                    await(dst.zero(op.offset, op.length));
                    zeroed += op.length;
                } else {
                    ByteBuf buf = (ByteBuf) await(op.future);
                    queue.pollFirst();
                    queueBytes -= op.length;
                    writeSparse(op.offset, buf).join();
                    copied += op.length;
                    done += op.length;
                    tick();
                    return;
                }
            } catch (Exception e) {
                throw new CopyException("copying " + op.length + " bytes at offset " + op.offset + ": "
                        + (e.getMessage() != null ? e.getMessage() : e), unwrap(e));
            }
            queue.pollFirst();
            done += op.length;
            tick();
        }

        /** After a failure: waits for what is in flight and releases every buffer. */
        private void abandon() {
            synchronized (asyncLock) {
                while (asyncInFlight > 0) {
                    try {
                        asyncLock.wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
            }
            while (!queue.isEmpty()) {
                Op op = queue.pollFirst();
                if (op.future == null) {
                    continue;
                }
                try {
                    Object r = op.future.join();
                    if (r instanceof ByteBuf b) {
                        b.release();
                    }
                } catch (RuntimeException ignored) {
                    // Already failed; the first error is reported.
                }
            }
        }

        private void tick() {
            if (bar != null) {
                bar.update(done);
            }
        }

        /**
         * Writes a buffer, turning aligned all-zero blocks of {@link #sparse} bytes into skipped ranges (a target
         * that skips zeroes) or zeroing (one that zeroes cheaply); others get everything. Releases the buffer.
         */
        private CompletableFuture<Void> writeSparse(long offset, ByteBuf buf) {
            if (sparse == 0 || !(dst.skipZeroes() || dst.zeroesCheaply()) || dst.discards()) {
                return write(offset, buf);
            }
            List<CompletableFuture<Void>> parts = new ArrayList<>();
            try {
                int len = buf.readableBytes();
                int base = buf.readerIndex();
                int runStart = 0;
                boolean runZero = false;
                int pos = 0;
                while (pos < len) {
                    long abs = offset + pos;
                    int next = (int) Math.min(len, pos + (sparse - (abs % sparse)));
                    boolean z = next - pos == sparse && isZero(buf, base + pos, next - pos);
                    if (pos == 0) {
                        runZero = z;
                    } else if (z != runZero) {
                        parts.add(emit(offset, buf, base, runStart, pos, runZero));
                        runStart = pos;
                        runZero = z;
                    }
                    pos = next;
                }
                if (len > 0) {
                    parts.add(emit(offset, buf, base, runStart, len, runZero));
                }
            } catch (Exception e) {
                parts.add(CompletableFuture.failedFuture(e));
            } finally {
                buf.release();
            }
            return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
        }

        private CompletableFuture<Void> emit(long offset, ByteBuf buf, int base, int from, int to, boolean zero)
                throws Exception {
            if (zero) {
                return dst.skipZeroes() ? CompletableFuture.completedFuture(null) : dst.zero(offset + from, to - from);
            }
            return write(offset + from, buf.retainedSlice(base + from, to - from));
        }

        private CompletableFuture<Void> write(long offset, ByteBuf data) {
            try {
                return dst.write(offset, data);
            } catch (Exception e) {
                return CompletableFuture.failedFuture(e);
            }
        }
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
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
