package io.nbdnetty.client.backup;

import io.nbdnetty.client.NbdBlockDevice;
import io.nbdnetty.client.NbdExtent;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.backup.NbdBackup.Kind;
import io.nbdnetty.client.backup.NbdBackup.Range;
import io.nbdnetty.client.copy.CopySource;
import io.nbdnetty.client.copy.Region;
import io.nbdnetty.client.stream.NbdStreams;
import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** A backup's plan: the data and zero ranges from block status, and the source as the copy engine sees it. */
final class BackupPlan {
    private BackupPlan() {
    }

    static boolean isDirty(NbdExtent e) {
        return (e.flags() & 1) != 0;
    }

    static List<NbdExtent> mergeDirty(List<NbdExtent> extents) {
        List<NbdExtent> out = new ArrayList<>();
        for (NbdExtent e : extents) {
            if (!isDirty(e)) {
                continue;
            }
            NbdExtent last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && last.end() == e.offset()) {
                out.set(out.size() - 1, new NbdExtent(last.offset(), last.length() + e.length(), 1));
            } else {
                out.add(e);
            }
        }
        return out;
    }

    /** Appends the data and zero ranges of {@code [offset, offset + length)} to {@code acc}. */
    static CompletableFuture<List<Range>> classify(NbdBlockDevice source, long offset, long length, List<Range> acc) {
        return collect(NbdStreams.extents(source, NbdMetaContext.BASE_ALLOCATION, offset, length))
                .thenApply(extents -> {
                    for (NbdExtent e : extents) {
                        Kind k = e.isZero() || e.isHole() ? Kind.ZERO : Kind.DATA;
                        Range last = acc.isEmpty() ? null : acc.get(acc.size() - 1);
                        if (last != null && last.kind() == k && last.offset() + last.length() == e.offset()) {
                            acc.set(acc.size() - 1, new Range(last.offset(), last.length() + e.length(), k));
                        } else {
                            acc.add(new Range(e.offset(), e.length(), k));
                        }
                    }
                    return acc;
                });
    }

    /** Collects a publisher's items; small, and only used for extents. */
    static <T> CompletableFuture<List<T>> collect(java.util.concurrent.Flow.Publisher<T> p) {
        CompletableFuture<List<T>> f = new CompletableFuture<>();
        List<T> items = java.util.Collections.synchronizedList(new ArrayList<>());
        p.subscribe(new java.util.concurrent.Flow.Subscriber<T>() {
            @Override
            public void onSubscribe(java.util.concurrent.Flow.Subscription s) {
                s.request(Long.MAX_VALUE);
            }

            @Override
            public void onNext(T item) {
                items.add(item);
            }

            @Override
            public void onError(Throwable t) {
                f.completeExceptionally(t);
            }

            @Override
            public void onComplete() {
                f.complete(new ArrayList<>(items));
            }
        });
        return f;
    }

    /** The source as the engine sees it: the planned ranges, everything else left alone. */
    static final class PlannedSource implements CopySource {
        private final NbdBlockDevice source;
        private final List<Range> plan;

        PlannedSource(NbdBlockDevice source, List<Range> plan) {
            this.source = source;
            this.plan = plan;
        }

        @Override
        public long size() {
            return source.size();
        }

        @Override
        public boolean stream() {
            return false;
        }

        @Override
        public long maxRequest() {
            return Math.max(1, source.exportInfo().maximumBlockSize());
        }

        @Override
        public List<Region> regions(long offset, long length) {
            List<Region> out = new ArrayList<>();
            long end = offset + length;
            for (Range r : plan) {
                long s = Math.max(r.offset(), offset);
                long e = Math.min(r.offset() + r.length(), end);
                if (s < e) {
                    out.add(new Region(s, e - s, r.kind() == Kind.ZERO));
                }
            }
            return out;
        }

        @Override
        public CompletableFuture<ByteBuf> read(long offset, int length) {
            return source.read(offset, length, 0);
        }

        @Override
        public String toString() {
            return "the source";
        }
    }
}
