package io.nbdnetty.client.stream;

import io.nbdnetty.client.NbdBlockDevice;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.internal.NegotiationHandler;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;

import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;

/**
 * A {@link Flow.Subscriber} that writes the buffers it receives to an {@link NbdBlockDevice}, one after another from
 * a starting offset, with bounded memory: it requests one buffer at a time, and only while the bytes written but not
 * yet acknowledged by the server are below the bound. A buffer that would take the bytes in flight past the bound is
 * held until enough writes have been acknowledged (a single buffer larger than the bound goes alone), so the bytes
 * in flight never exceed the bound. Buffers larger than the server's maximum block size are split.
 *
 * <p>Ownership: every buffer received belongs to the subscriber, which hands it to the device (which releases it)
 * or releases it itself. On the first failed write, or an upstream {@code onError}, it cancels the upstream,
 * releases the buffers it still holds (and any that still arrive) and fails {@link #result()}; writes already in
 * flight complete on their own. On {@code onComplete} the result completes with the number of bytes written once
 * every write has been acknowledged.
 *
 * <p>Made by {@link NbdStreams#write(NbdBlockDevice, long, long)}. Single use: a second {@code onSubscribe} is
 * cancelled at once (Reactive Streams rule 2.5). Thread-safe.
 */
public final class NbdWriteSubscriber implements Flow.Subscriber<ByteBuf> {
    private final NbdBlockDevice dev;
    private final long maxInFlightBytes;
    private final long maxPiece;
    private final CompletableFuture<Long> result = new CompletableFuture<>();

    // Guarded by this.
    private Flow.Subscription subscription;
    private final ArrayDeque<Piece> held = new ArrayDeque<>();
    private long nextOffset;
    private long inFlightBytes;
    private long written;
    private long maxSeenInFlight;
    private boolean requestOutstanding;
    private boolean upstreamDone;
    private Throwable failure;

    private record Piece(long offset, ByteBuf data) {
    }

    NbdWriteSubscriber(NbdBlockDevice dev, long offset, long maxInFlightBytes) {
        this.dev = Objects.requireNonNull(dev, "dev");
        if (offset < 0) {
            throw new IllegalArgumentException("offset must not be negative: " + offset);
        }
        if (maxInFlightBytes < 1) {
            throw new IllegalArgumentException("maxInFlightBytes must be at least 1: " + maxInFlightBytes);
        }
        this.nextOffset = offset;
        this.maxInFlightBytes = maxInFlightBytes;
        long maxBlock = dev.exportInfo().maximumBlockSize();
        this.maxPiece = Math.max(1, Math.min(maxBlock > 0 ? maxBlock : NbdExportInfo.DEFAULT_MAXIMUM_PAYLOAD,
                Integer.MAX_VALUE));
    }

    /**
     * Completes with the number of bytes written once the upstream has completed and every write has been
     * acknowledged; fails with the first write error or the upstream's error.
     *
     * @return the future
     */
    public CompletableFuture<Long> result() {
        return result;
    }

    /**
     * Returns the most bytes that were ever in flight at once (for tests and tuning).
     *
     * @return the high-water mark, at most the bound unless a single buffer was larger
     */
    public synchronized long maxInFlightBytesSeen() {
        return maxSeenInFlight;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        Objects.requireNonNull(s, "subscription");
        synchronized (this) {
            if (subscription != null) {
                s.cancel();
                return;
            }
            subscription = s;
        }
        pump();
    }

    @Override
    public void onNext(ByteBuf buf) {
        Objects.requireNonNull(buf, "buf");
        synchronized (this) {
            requestOutstanding = false;
            if (failure != null || upstreamDone) {
                ReferenceCountUtil.safeRelease(buf);
                return;
            }
            int n = buf.readableBytes();
            if (n == 0) {
                buf.release();
            } else if (n <= maxPiece) {
                held.add(new Piece(nextOffset, buf));
            } else {
                for (int at = 0; at < n; at += (int) maxPiece) {
                    int len = (int) Math.min(maxPiece, n - at);
                    held.add(new Piece(nextOffset + at, buf.retainedSlice(buf.readerIndex() + at, len)));
                }
                buf.release();
            }
            nextOffset += n;
        }
        pump();
    }

    @Override
    public void onError(Throwable t) {
        Objects.requireNonNull(t, "throwable");
        synchronized (this) {
            upstreamDone = true;
        }
        failWith(t, false);
    }

    @Override
    public void onComplete() {
        synchronized (this) {
            upstreamDone = true;
        }
        pump();
    }

    private void failWith(Throwable t, boolean cancelUpstream) {
        Flow.Subscription s;
        synchronized (this) {
            if (failure != null) {
                return;
            }
            failure = t;
            held.forEach(p -> ReferenceCountUtil.safeRelease(p.data));
            held.clear();
            s = cancelUpstream && !upstreamDone ? subscription : null;
        }
        if (s != null) {
            s.cancel();
        }
        result.completeExceptionally(t);
    }

    /** Issues the held pieces that fit, then requests more or completes. */
    private void pump() {
        java.util.List<Piece> toSend = new java.util.ArrayList<>();
        boolean request = false;
        boolean done = false;
        Flow.Subscription s;
        synchronized (this) {
            s = subscription;
            if (failure != null || s == null) {
                return;
            }
            while (!held.isEmpty()) {
                Piece p = held.peek();
                long n = p.data.readableBytes();
                if (inFlightBytes > 0 && inFlightBytes + n > maxInFlightBytes) {
                    break;
                }
                held.poll();
                inFlightBytes += n;
                maxSeenInFlight = Math.max(maxSeenInFlight, inFlightBytes);
                toSend.add(p);
            }
            if (held.isEmpty() && !upstreamDone && !requestOutstanding && inFlightBytes < maxInFlightBytes) {
                requestOutstanding = true;
                request = true;
            }
            done = upstreamDone && held.isEmpty() && inFlightBytes == 0 && toSend.isEmpty();
        }
        for (Piece p : toSend) {
            int n = p.data.readableBytes();
            CompletableFuture<Void> f;
            try {
                f = dev.write(p.offset, p.data, 0);
            } catch (RuntimeException e) {
                f = CompletableFuture.failedFuture(e);
            }
            f.whenComplete((v, e) -> {
                synchronized (this) {
                    inFlightBytes -= n;
                    if (e == null) {
                        written += n;
                    }
                }
                if (e != null) {
                    failWith(NegotiationHandler.unwrap(e), true);
                } else {
                    pump();
                }
            });
        }
        if (request) {
            s.request(1);
        }
        if (done) {
            long total;
            synchronized (this) {
                total = written;
            }
            result.complete(total);
        }
    }
}
