package io.nbdnetty.client.backup;

import io.nbdnetty.client.NbdBlockDevice;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdCommandException;
import io.nbdnetty.client.NbdExtent;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdTimeoutException;
import io.nbdnetty.client.copy.Copier;
import io.nbdnetty.client.copy.CopyException;
import io.nbdnetty.client.copy.CopyTarget;
import io.nbdnetty.client.copy.FileEndpoint;
import io.nbdnetty.client.copy.NbdEndpoint;
import io.nbdnetty.client.internal.ConfigChecks;
import io.nbdnetty.client.stream.NbdStreams;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * Full and incremental backup of an export, driven by block status: a full backup copies the data extents of
 * {@code base:allocation} and keeps holes sparse; an incremental backup copies only the ranges a qemu dirty bitmap
 * ({@code qemu:dirty-bitmap:NAME}) marks dirty, onto a previous copy. The source must have negotiated
 * {@code base:allocation} (and, for an incremental backup, the bitmap's context), e.g. with
 * {@code qemu-nbd -B NAME} and {@link NbdClientConfig.Builder#addMetaContext(String)}.
 *
 * <pre>{@code
 * NbdBackup.Result r = NbdBackup.builder(source)
 *         .bitmap("b0").incremental(true)
 *         .maxInFlightBytes(64 << 20)
 *         .build()
 *         .toFile(Path.of("disk.raw"))
 *         .get();
 * }</pre>
 *
 * <p>Targets: another {@link NbdBlockDevice} (at least as large as the source), or a file. Zero ranges (holes and
 * extents reading as zeroes) are sent as NBD_CMD_WRITE_ZEROES to a device target (or as written zeroes if it cannot
 * zero). A full backup to a file first truncates it to nothing and sets its size, so zero ranges are simply skipped
 * and stay holes; an incremental backup to a file writes zero ranges that fall in dirty ranges as zeroes (Java has no
 * portable way to punch a hole). The copy itself is the {@link Copier} that {@code nbd copy} uses too, run on a private
 * thread of each backup (file writes happen there, never on an event loop).
 *
 * <p>Flow: data moves in requests of at most the smaller of the two servers' maximum block sizes and
 * {@link Builder#chunkSize(int)}, with at most {@link Builder#maxInFlightBytes(long)} bytes read but not yet written
 * at a time. The first error stops issuing new work and fails the result once the work in flight has finished. At
 * the end the target is flushed (NBD_CMD_FLUSH when the target supports it; {@code force} for a file). The plan
 * (block status of {@code base:allocation}, and of the bitmap for an incremental backup) is made before anything is
 * written: if the server answers that block status with an error, the backup fails with that
 * {@link NbdCommandException} before writing any data (a full backup to a path has by then created the file if it was
 * missing, and removed its old backup record); it never falls back to a guess (for an incremental backup a guess would
 * be a wrong backup).
 *
 * <p>What an incremental backup checks before it touches anything (otherwise it fails with
 * {@link NbdBackupTargetException}, and nothing is read, created or written). An incremental backup is only correct on
 * top of the previous backup of the same disk, taken while the bitmap was already recording:
 * <ul>
 *   <li>a device target ({@link #toDevice}) or an open channel ({@link #toFile(FileChannel)}) must be exactly as large
 *       as the source; that is all that can be checked there;</li>
 *   <li>a file path ({@link #toFile(Path)}) must exist, be a regular file exactly as large as the source, and have a
 *       backup record ({@code PATH}{@value #RECORD_SUFFIX}) naming the same source size, the same bitmap and the
 *       same {@link Builder#sourceId(String) source identity}. A full backup to a path deletes that record before it
 *       starts and writes it once the target is flushed, so a full backup that did not finish, or a file that was
 *       not made by a full backup of this source, is refused too. An incremental backup leaves the record as it
 *       was.</li>
 * </ul>
 * Not checked: that the data outside the dirty ranges really matches the source (the target could have been changed
 * by something else since), that the bitmap was created before the full backup (it must have been), and, without a
 * source identity, which disk the source is beyond its size.
 *
 * <p>A source or target server that stops answering does not hang a backup: connections made with the default
 * configuration fail after {@link NbdClientConfig#stallTimeout()} (60 s) without a byte while requests wait, which
 * fails the backup with that {@link NbdTimeoutException}.
 *
 * <p>An {@code NbdBackup} describes one backup and may be run more than once; each run is independent. Thread-safe.
 */
public final class NbdBackup {
    /** The default bound on bytes in flight: 64 MiB. */
    public static final long DEFAULT_MAX_IN_FLIGHT_BYTES = 64L << 20;
    /** The default largest request: 4 MiB (further capped by the servers' maximum block sizes). */
    public static final int DEFAULT_CHUNK_SIZE = 4 << 20;
    /**
     * What {@link #toFile(Path)} appends to the target's name for its backup record: {@code disk.raw.nbd-backup}.
     */
    public static final String RECORD_SUFFIX = ".nbd-backup";
    /** How many requests may be outstanding at once. */
    private static final int MAX_OPS_IN_FLIGHT = 64;

    /** What a range of the plan holds. */
    public enum Kind {
        /** Allocated data: read from the source and written to the target. */
        DATA,
        /** Reads as zeroes on the source: zeroed on the target, or skipped where it already reads as zeroes. */
        ZERO
    }

    /**
     * One range of a backup plan.
     *
     * @param offset where it starts
     * @param length its length
     * @param kind data or zero
     */
    public record Range(long offset, long length, Kind kind) {
    }

    /**
     * What a backup did.
     *
     * @param incremental whether only dirty ranges were considered
     * @param scannedBytes the bytes the backup considered: the export size for a full backup, the total of the dirty
     *     extents for an incremental one
     * @param bytesCopied data bytes read from the source and written to the target
     * @param bytesZeroed bytes zeroed on the target (write zeroes, or zeroes written to a file)
     * @param bytesSkipped zero bytes left alone because the target already reads as zeroes there
     * @param ranges the plan: every data and zero range, in order
     */
    public record Result(boolean incremental, long scannedBytes, long bytesCopied, long bytesZeroed,
            long bytesSkipped, List<Range> ranges) {
        /**
         * Copies the list.
         *
         * @param incremental whether incremental
         * @param scannedBytes bytes considered
         * @param bytesCopied bytes copied
         * @param bytesZeroed bytes zeroed
         * @param bytesSkipped bytes skipped
         * @param ranges the plan
         */
        public Result {
            ranges = List.copyOf(ranges);
        }
    }

    private final NbdBlockDevice source;
    private final String bitmap;
    private final String bitmapContext;
    private final String sourceId;
    private final boolean incremental;
    private final long maxInFlightBytes;
    private final int chunkSize;

    private NbdBackup(Builder b) {
        this.source = b.source;
        this.bitmap = b.bitmap;
        this.bitmapContext = b.bitmap == null ? null : NbdMetaContext.QEMU_DIRTY_BITMAP_PREFIX + b.bitmap;
        this.sourceId = b.sourceId;
        this.incremental = b.incremental;
        this.maxInFlightBytes = b.maxInFlightBytes;
        this.chunkSize = b.chunkSize;
    }

    /**
     * Starts describing a backup of {@code source}.
     *
     * @param source the device to back up
     * @return a builder
     */
    public static Builder builder(NbdBlockDevice source) {
        return new Builder(Objects.requireNonNull(source, "source"));
    }

    /**
     * Returns the metadata context of the bitmap, e.g. {@code qemu:dirty-bitmap:b0}.
     *
     * @return the context name, or null if no bitmap was set
     */
    public String bitmapContext() {
        return bitmapContext;
    }

    // ---------------------------------------------------------------------------------------------------- running

    /**
     * Runs the backup onto another device. No backup record is kept on a device: an incremental backup checks only
     * that it is exactly as large as the source (see the class comment).
     *
     * @param target the target device: at least as large as the source for a full backup, exactly as large for an
     *     incremental one; not closed
     * @return completes with what was done; fails with {@link NbdBackupTargetException} if the target's size does not
     *     fit (nothing is written then)
     */
    public CompletableFuture<Result> toDevice(NbdBlockDevice target) {
        Objects.requireNonNull(target, "target");
        if (target.size() < source.size()) {
            return CompletableFuture.failedFuture(new NbdBackupTargetException("the target (" + target.size()
                    + " bytes) is smaller than the source (" + source.size() + " bytes)"));
        }
        if (incremental && target.size() != source.size()) {
            return CompletableFuture.failedFuture(new NbdBackupTargetException("the target export is "
                    + target.size() + " bytes but the source is " + source.size() + " bytes, so it is not a previous "
                    + "backup of it: an incremental backup needs the previous backup as its target"));
        }
        return run(new NbdEndpoint("the target export", target, false, null), false, null, null);
    }

    /**
     * Runs the backup onto an open file channel (opened for writing). A full backup truncates it first; its size is
     * set to the source's. No backup record is kept: an incremental backup checks only that the file is exactly as
     * large as the source (see the class comment). Not closed.
     *
     * @param file the file
     * @return completes with what was done; fails with {@link NbdBackupTargetException} if an incremental backup's
     *     file is not as large as the source (nothing is written then)
     */
    public CompletableFuture<Result> toFile(FileChannel file) {
        Objects.requireNonNull(file, "file");
        if (incremental) {
            try {
                if (file.size() != source.size()) {
                    return CompletableFuture.failedFuture(new NbdBackupTargetException("the target file is "
                            + file.size() + " bytes but the source is " + source.size() + " bytes, so it is not a "
                            + "previous backup of it: an incremental backup needs the previous backup as its target"));
                }
            } catch (IOException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
        return run(incremental ? FileEndpoint.inPlace(null, file, source.size()) : FileEndpoint.replacing(null, file),
                false, null, null);
    }

    /**
     * Runs the backup onto a file with a backup record beside it ({@code path}{@value #RECORD_SUFFIX}). A full backup
     * creates the file if missing, deletes the record first and writes it once the data is flushed. An incremental
     * backup first checks the file and its record (see the class comment) and opens the file without creating it.
     *
     * @param path the file
     * @return completes with what was done, the file closed by then; fails with {@link NbdBackupTargetException} if an
     *     incremental backup's target is not the previous backup of this source (nothing is read, created or written
     *     then)
     */
    public CompletableFuture<Result> toFile(Path path) {
        Objects.requireNonNull(path, "path");
        Path record = recordPath(path);
        FileChannel ch;
        try {
            if (incremental) {
                new BackupRecord(source.size(), bitmap, sourceId).check(path, record);
                ch = FileChannel.open(path, StandardOpenOption.WRITE);
            } else {
                ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                java.nio.file.Files.deleteIfExists(record);
            }
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
        return run(incremental ? FileEndpoint.inPlace(path, ch, source.size()) : FileEndpoint.replacing(path, ch), true,
                incremental ? null : record,
                incremental ? null : new BackupRecord(source.size(), bitmap, sourceId).text());
    }

    /**
     * Returns where {@link #toFile(Path)} keeps the backup record of a target file.
     *
     * @param target the target file
     * @return {@code target} with {@value #RECORD_SUFFIX} appended to its name
     */
    public static Path recordPath(Path target) {
        Path name = target.getFileName();
        if (name == null) {
            throw new IllegalArgumentException("not a file name: " + target);
        }
        return target.resolveSibling(name + RECORD_SUFFIX);
    }


    /**
     * Plans, then copies on a private thread with the shared {@link Copier}; the target is flushed at the end and, for
     * a full backup to a path, the record written after that.
     */
    private CompletableFuture<Result> run(CopyTarget target, boolean closeTarget, Path record, String recordText) {
        if (incremental && bitmapContext == null) {
            close(target, closeTarget);
            return CompletableFuture.failedFuture(new IllegalStateException(
                    "an incremental backup needs a dirty bitmap; set one with bitmap(NAME)"));
        }
        long size = source.size();
        CompletableFuture<List<Range>> plan;
        CompletableFuture<Long> scanned;
        if (!incremental) {
            plan = BackupPlan.classify(source, 0, size, new ArrayList<>());
            scanned = CompletableFuture.completedFuture(size);
        } else {
            CompletableFuture<List<NbdExtent>> dirty = BackupPlan.collect(
                    NbdStreams.extents(source, bitmapContext, 0, size));
            scanned = dirty.thenApply(d -> d.stream().filter(BackupPlan::isDirty).mapToLong(NbdExtent::length).sum());
            plan = dirty.thenCompose(d -> {
                CompletableFuture<List<Range>> chain = CompletableFuture.completedFuture(new ArrayList<>());
                for (NbdExtent e : BackupPlan.mergeDirty(d)) {
                    chain = chain.thenCompose(acc -> BackupPlan.classify(source, e.offset(), e.length(), acc));
                }
                return chain;
            });
        }
        CompletableFuture<Result> result = plan.thenCompose(ranges -> copy(ranges, target, record, recordText))
                .thenCombine(scanned, (r, s) -> new Result(incremental, s, r.copied.bytesCopied(),
                        r.copied.bytesZeroed(), r.copied.bytesSkipped(), r.ranges));
        return result.whenComplete((r, e) -> close(target, closeTarget));
    }

    /** What the copy step hands on: the engine's counts and the plan. */
    private record Copied(Copier.Result copied, List<Range> ranges) {
    }

    private CompletableFuture<Copied> copy(List<Range> ranges, CopyTarget target, Path record, String recordText) {
        Copier copier = Copier.builder().requestSize(Math.min(chunkSize, maxInFlightBytes)).window(MAX_OPS_IN_FLIGHT)
                .maxInFlightBytes(maxInFlightBytes).flush(true).build();
        CompletableFuture<Copied> f = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                Copier.Result r = copier.copy(new BackupPlan.PlannedSource(source, ranges), target, null);
                if (record != null) {
                    BackupRecord.write(record, recordText);
                }
                f.complete(new Copied(r, ranges));
            } catch (CopyException e) {
                f.completeExceptionally(e.getCause() != null ? e.getCause() : e);
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        }, "nbd-backup");
        t.setDaemon(true);
        t.start();
        return f;
    }

    private static void close(CopyTarget target, boolean closeTarget) {
        if (closeTarget) {
            try {
                target.close();
            } catch (Exception ignored) {
                // closing after the backup ended; nothing to report it to
            }
        }
    }




    // ---------------------------------------------------------------------------------------------------- builder

    /** Describes a backup. Not thread-safe; the built {@link NbdBackup} is. */
    public static final class Builder {
        private final NbdBlockDevice source;
        private String bitmap;
        private String sourceId;
        private boolean incremental;
        private long maxInFlightBytes = DEFAULT_MAX_IN_FLIGHT_BYTES;
        private int chunkSize = DEFAULT_CHUNK_SIZE;

        private Builder(NbdBlockDevice source) {
            this.source = source;
        }

        /**
         * Sets the dirty bitmap (its context {@code qemu:dirty-bitmap:NAME} must be negotiated on the source).
         *
         * @param name the bitmap name, e.g. {@code b0}
         * @return this builder
         */
        public Builder bitmap(String name) {
            Objects.requireNonNull(name, "name");
            if (name.isEmpty()) {
                throw new IllegalArgumentException("bitmap name must not be empty");
            }
            this.bitmap = name;
            return this;
        }

        /**
         * Names the disk being backed up, e.g. a virtual disk's UUID, so that an incremental backup onto the backup
         * of another disk is refused: a full backup to a path records it, an incremental one to a path requires the
         * same (see the class comment). Unset, the source is known only by its size.
         *
         * @param id any non-empty text, stable for the disk
         * @return this builder
         */
        public Builder sourceId(String id) {
            Objects.requireNonNull(id, "id");
            if (id.isEmpty()) {
                throw new IllegalArgumentException("source id must not be empty");
            }
            this.sourceId = id;
            return this;
        }

        /**
         * Copies only the dirty ranges (onto a previous copy) instead of everything.
         *
         * @param incremental true for an incremental backup (needs {@link #bitmap(String)})
         * @return this builder
         */
        public Builder incremental(boolean incremental) {
            this.incremental = incremental;
            return this;
        }

        /**
         * Bounds the bytes read from the source and not yet written to the target.
         *
         * @param bytes at least 1; {@link #DEFAULT_MAX_IN_FLIGHT_BYTES} unless set
         * @return this builder
         */
        public Builder maxInFlightBytes(long bytes) {
            this.maxInFlightBytes = ConfigChecks.atLeast(bytes, 1, "maxInFlightBytes");
            return this;
        }

        /**
         * Sets the largest read and write (further capped by both servers' maximum block sizes and the in-flight
         * bound).
         *
         * @param bytes at least 1; {@link #DEFAULT_CHUNK_SIZE} unless set
         * @return this builder
         */
        public Builder chunkSize(int bytes) {
            this.chunkSize = (int) ConfigChecks.atLeast(bytes, 1, "chunkSize");
            return this;
        }

        /**
         * Builds the backup description.
         *
         * @return the backup
         * @throws IllegalStateException if incremental without a bitmap
         */
        public NbdBackup build() {
            if (incremental && bitmap == null) {
                throw new IllegalStateException("an incremental backup needs a dirty bitmap; set one with bitmap()");
            }
            return new NbdBackup(this);
        }
    }
}
