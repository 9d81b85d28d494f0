package io.nbdnetty.client;

import io.netty.buffer.ByteBuf;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A device wrapper for tests: counts the reads, writes and block status calls outstanding (and their high-water
 * marks), and can cap the length of block status requests to force a walk to ask many times.
 */
public final class CountingDevice implements NbdBlockDevice {
    private final NbdBlockDevice dev;
    private final long blockStatusCap;
    /** Reads issued and not yet completed. */
    public final AtomicInteger readsOutstanding = new AtomicInteger();
    /** The most reads ever outstanding. */
    public final AtomicInteger maxReadsOutstanding = new AtomicInteger();
    /** Bytes written and not yet acknowledged. */
    public final AtomicLong writeBytesOutstanding = new AtomicLong();
    /** The most write bytes ever outstanding. */
    public final AtomicLong maxWriteBytesOutstanding = new AtomicLong();
    /** Reads issued. */
    public final AtomicInteger reads = new AtomicInteger();
    /** Writes issued. */
    public final AtomicInteger writes = new AtomicInteger();
    /** Block status calls issued. */
    public final AtomicInteger blockStatusCalls = new AtomicInteger();

    /**
     * Wraps a device.
     *
     * @param dev the device
     * @param blockStatusCap the largest block status length passed on (Long.MAX_VALUE for no cap)
     */
    public CountingDevice(NbdBlockDevice dev, long blockStatusCap) {
        this.dev = dev;
        this.blockStatusCap = blockStatusCap;
    }

    /**
     * Wraps a device without a block status cap.
     *
     * @param dev the device
     */
    public CountingDevice(NbdBlockDevice dev) {
        this(dev, Long.MAX_VALUE);
    }

    @Override
    public NbdExportInfo exportInfo() {
        return dev.exportInfo();
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length, int flags) {
        reads.incrementAndGet();
        maxReadsOutstanding.accumulateAndGet(readsOutstanding.incrementAndGet(), Math::max);
        // The caller's future completes after the count went down (callbacks on one future run in any order).
        return dev.read(offset, length, flags).whenComplete((v, e) -> readsOutstanding.decrementAndGet());
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        writes.incrementAndGet();
        long n = data.readableBytes();
        maxWriteBytesOutstanding.accumulateAndGet(writeBytesOutstanding.addAndGet(n), Math::max);
        return dev.write(offset, data, flags).whenComplete((v, e) -> writeBytesOutstanding.addAndGet(-n));
    }

    @Override
    public CompletableFuture<Void> flush() {
        return dev.flush();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return dev.trim(offset, length, flags);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return dev.writeZeroes(offset, length, flags);
    }

    @Override
    public CompletableFuture<Void> cache(long offset, long length) {
        return dev.cache(offset, length);
    }

    @Override
    public CompletableFuture<NbdBlockStatus> blockStatus(long offset, long length, int flags) {
        blockStatusCalls.incrementAndGet();
        return dev.blockStatus(offset, Math.min(length, blockStatusCap), flags);
    }

    @Override
    public CompletableFuture<Void> disconnect() {
        return dev.disconnect();
    }
}
