package io.nbdnetty.client.copy;

import io.nbdnetty.client.NbdException;
import io.netty.buffer.ByteBuf;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One copy: the state of a {@link Copier#copy} call, used from its thread (and the async counters from any). The
 * window, buffer-ownership and sparse rules are those stated on {@link Copier}.
 */
final class CopyRun {
    private final long maxInFlightBytes;
    private final int window;
    private final long sparse;
    private final boolean flush;
    private final CopySource src;
    private final CopyTarget dst;
    private final Copier.Progress bar;
    private final long request;
    private final boolean bytesBounded;
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

    CopyRun(Copier c, CopySource src, CopyTarget dst, Copier.Progress bar) {
        this.maxInFlightBytes = c.maxInFlightBytes;
        this.bytesBounded = c.maxInFlightBytes != Long.MAX_VALUE;
        this.window = c.window;
        this.sparse = c.sparse;
        this.flush = c.flush;
        this.src = src;
        this.dst = dst;
        this.bar = bar;
        this.request = Math.max(1, Math.min(c.requestSize, Math.min(src.maxRequest(), dst.maxRequest())));
    }

    Copier.Result run() throws Exception {
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
                for (long at = 0; at < size; at += Copier.PLAN_BATCH) {
                    for (Region r : src.regions(at, Math.min(Copier.PLAN_BATCH, size - at))) {
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
                Copier.await(dst.flush());
            }
        } catch (Exception e) {
            abandon();
            throw e;
        } finally {
            if (bar != null) {
                bar.finished(done);
            }
        }
        return new Copier.Result(copied + asyncCopied.get(), zeroed + asyncZeroed.get(), skipped);
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
                Copier.await(dst.zero(op.offset, op.length));
                zeroed += op.length;
            } else {
                ByteBuf buf = (ByteBuf) Copier.await(op.future);
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
                    + (e.getMessage() != null ? e.getMessage() : e), Copier.unwrap(e));
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
                boolean z = next - pos == sparse && Copier.isZero(buf, base + pos, next - pos);
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
}
