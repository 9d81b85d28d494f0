package io.nbdnetty.examples.cli.copy;

import io.nbdnetty.client.copy.CopyTarget;
import io.netty.buffer.ByteBuf;

import java.util.concurrent.CompletableFuture;

/** {@code null:}: throws everything away. */
final class NullTarget implements CopyTarget {
    @Override
    public long size() {
        return -1;
    }

    /** Discarding is safe on any thread, so reads are dropped on the event loop as they complete. */
    @Override
    public boolean async() {
        return true;
    }

    @Override
    public boolean skipZeroes() {
        return true;
    }

    @Override
    public boolean discards() {
        return true;
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data) {
        data.release();
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> zero(long offset, long length) {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public String toString() {
        return "null:";
    }
}
