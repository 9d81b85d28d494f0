package io.nbdnetty.client.copy;

import java.util.List;

/**
 * A region of a copy's source: data to copy, or zeroes the target may make sparse.
 *
 * @param offset where it starts
 * @param length its length in bytes
 * @param zero true if it reads as zeroes (a hole, or an extent the source reports as zero)
 */
public record Region(long offset, long length, boolean zero) {
    /**
     * Returns where the region ends.
     *
     * @return {@code offset + length}
     */
    public long end() {
        return offset + length;
    }

    /**
     * Appends a region to a list, merged into the last one when it is of the same kind and follows it directly.
     *
     * @param out the regions so far, in order
     * @param r the next region
     */
    public static void add(List<Region> out, Region r) {
        if (!out.isEmpty()) {
            Region last = out.get(out.size() - 1);
            if (last.zero() == r.zero() && last.end() == r.offset()) {
                out.set(out.size() - 1, new Region(last.offset(), last.length() + r.length(), r.zero()));
                return;
            }
        }
        out.add(r);
    }
}
