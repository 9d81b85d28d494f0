package io.nbdnetty.client;

import io.nbdnetty.codec.NbdBlockStatusChunk;

import java.util.AbstractList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.RandomAccess;

/**
 * The extents of one metadata context in a block status reply, kept compact: a view over the lengths and statuses
 * as the reply decoder stored them (one primitive array per chunk, no object per extent), placed from the request's
 * offset on. The {@link List} methods make an {@link NbdExtent} on each call; to read a large reply without one
 * object per extent, use {@link #offset(int)}, {@link #length(int)} and {@link #flags(int)}, or {@link
 * #forEachExtent(Visitor)}.
 *
 * <p>An extent that runs past the end of the export has already been cut at the end of the export (and the ones
 * after it dropped), or refused, as {@link NbdStrict#EXTENTS} says; so no extent here describes a byte past the end
 * of the export.
 *
 * <p>Immutable and safe to share between threads.
 */
public final class NbdExtentList extends AbstractList<NbdExtent> implements RandomAccess {
    /** Receives extents one at a time, without an object each. */
    @FunctionalInterface
    public interface Visitor {
        /**
         * One extent.
         *
         * @param offset where it starts in the export
         * @param length its length in bytes (at least 1)
         * @param flags its status flags
         */
        void extent(long offset, long length, long flags);
    }

    private final long start;
    private final int count;
    private final NbdBlockStatusChunk chunk;
    private final long lastLength;
    private final long end;
    /** For a list made by {@link #copyOf}: offset, length, flags triples; else null. */
    private final long[] triples;
    /** Offsets of the extents of a chunk, computed on the first random access by index. */
    private volatile long[] offsets;

    private NbdExtentList(long start, int count, NbdBlockStatusChunk chunk, long lastLength, long end,
            long[] triples) {
        this.start = start;
        this.end = end;
        this.count = count;
        this.chunk = chunk;
        this.lastLength = lastLength;
        this.triples = triples;
    }

    /**
     * The first {@code count} descriptors of a chunk from {@code start} on, the last of them {@code lastLength}
     * bytes long (cut at the end of the export, or its own length), ending at {@code end}.
     */
    static NbdExtentList of(long start, NbdBlockStatusChunk chunk, int count, long lastLength, long end) {
        return new NbdExtentList(start, count, chunk, lastLength, end, null);
    }

    /**
     * A compact copy of any list of extents (as {@link NbdBlockStatus#extentList} returns for a status built by
     * hand).
     *
     * @param extents the extents, kept in their order (offsets as given)
     * @return the list; {@code extents} itself if it is one already
     */
    public static NbdExtentList copyOf(List<NbdExtent> extents) {
        if (extents instanceof NbdExtentList l) {
            return l;
        }
        long[] t = new long[extents.size() * 3];
        int i = 0;
        for (NbdExtent e : extents) {
            t[i++] = e.offset();
            t[i++] = e.length();
            t[i++] = e.flags();
        }
        int n = extents.size();
        return new NbdExtentList(n == 0 ? 0 : t[0], n, null, 0, n == 0 ? 0 : t[3 * n - 3] + t[3 * n - 2], t);
    }

    @Override
    public int size() {
        return count;
    }

    /**
     * The offset of extent {@code i}. The first call for an index other than 0 computes all offsets once (8 bytes
     * per extent); {@link #forEachExtent} and the iterator do not need them.
     *
     * @param i the index
     * @return where it starts
     */
    public long offset(int i) {
        checkIndex(i);
        if (triples != null) {
            return triples[3 * i];
        }
        if (i == 0) {
            return start;
        }
        long[] o = offsets;
        if (o == null) {
            o = new long[count];
            long at = start;
            for (int j = 0; j < count; j++) {
                o[j] = at;
                at += chunk.extentLength(j);
            }
            offsets = o;
        }
        return o[i];
    }

    /**
     * The length of extent {@code i}.
     *
     * @param i the index
     * @return its length in bytes
     */
    public long length(int i) {
        checkIndex(i);
        if (triples != null) {
            return triples[3 * i + 1];
        }
        return i == count - 1 ? lastLength : chunk.extentLength(i);
    }

    /**
     * The status flags of extent {@code i}.
     *
     * @param i the index
     * @return its flags
     */
    public long flags(int i) {
        checkIndex(i);
        return triples != null ? triples[3 * i + 2] : chunk.extentStatus(i);
    }

    /**
     * Where the last extent ends (exclusive); the request's offset if there are none.
     *
     * @return the end
     */
    public long end() {
        return end;
    }

    /**
     * Passes each extent to {@code visitor} in order, without making an object per extent.
     *
     * @param visitor receives them
     */
    public void forEachExtent(Visitor visitor) {
        long at = start;
        for (int i = 0; i < count; i++) {
            long len = length(i);
            long off = triples != null ? triples[3 * i] : at;
            visitor.extent(off, len, flags(i));
            at += len;
        }
    }

    @Override
    public NbdExtent get(int i) {
        return new NbdExtent(offset(i), length(i), flags(i));
    }

    @Override
    public Iterator<NbdExtent> iterator() {
        return new Iterator<>() {
            private int i;
            private long at = start;

            @Override
            public boolean hasNext() {
                return i < count;
            }

            @Override
            public NbdExtent next() {
                if (i >= count) {
                    throw new NoSuchElementException();
                }
                long len = length(i);
                NbdExtent e = new NbdExtent(triples != null ? triples[3 * i] : at, len, flags(i));
                at += len;
                i++;
                return e;
            }
        };
    }

    private void checkIndex(int i) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException("extent " + i + " of " + count);
        }
    }
}
