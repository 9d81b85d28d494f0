package io.nbdnetty.client;

import io.netty.buffer.ByteBuf;

/**
 * Receives the result of {@link NbdConnection#read(long, int, int, NbdReadCallback)}: a read that completes a
 * callback instead of a future, so that one callback object can serve any number of reads and a read issued on the
 * event loop allocates nothing.
 *
 * <p>Called once per read, on the connection's event loop (or on the calling thread if the read fails before it is
 * queued, e.g. refused by a strict-mode check). Keep it quick, never block, and do not throw: what it throws is
 * logged and otherwise ignored.
 */
@FunctionalInterface
public interface NbdReadCallback {
    /**
     * A read completed or failed.
     *
     * @param offset the offset the read was issued with
     * @param length the length it was issued with
     * @param data the data on success, owned by the callback, which must release it; null on failure
     * @param error null on success, else why the read failed (the same exceptions as the future of {@link
     *     NbdConnection#read(long, int, int)} would complete with)
     */
    void readCompleted(long offset, int length, ByteBuf data, Throwable error);
}
