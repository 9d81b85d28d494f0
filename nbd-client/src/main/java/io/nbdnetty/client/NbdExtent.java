package io.nbdnetty.client;

import io.nbdnetty.codec.NbdStateFlags;

/**
 * One block status descriptor, placed at its absolute offset.
 *
 * @param offset where the extent starts in the export
 * @param length its length in bytes
 * @param flags its status: for {@code base:allocation} the {@link NbdStateFlags} (HOLE, ZERO); for a dirty bitmap
 *     1 = dirty; for {@code qemu:allocation-depth} the depth
 */
public record NbdExtent(long offset, long length, long flags) {
    /**
     * For {@code base:allocation}: whether the extent is a hole (not allocated).
     *
     * @return NBD_STATE_HOLE
     */
    public boolean isHole() {
        return (flags & NbdStateFlags.HOLE) != 0;
    }

    /**
     * For {@code base:allocation}: whether the extent reads as zeroes.
     *
     * @return NBD_STATE_ZERO
     */
    public boolean isZero() {
        return (flags & NbdStateFlags.ZERO) != 0;
    }

    /**
     * The end of the extent (exclusive).
     *
     * @return offset + length
     */
    public long end() {
        return offset + length;
    }
}
