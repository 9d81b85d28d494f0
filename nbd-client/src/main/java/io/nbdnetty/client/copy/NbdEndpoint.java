package io.nbdnetty.client.copy;

import io.nbdnetty.client.NbdBlockDevice;
import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdCommandException;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdExtent;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdTimeoutException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * An NBD export as either end of a copy, through any {@link NbdBlockDevice} (a connection or a pool); asynchronous.
 *
 * <p>As a source with extents on, {@link #regions} asks block status {@code base:allocation} (which must have been
 * negotiated) and reports holes and zero extents as zero regions. If the server answers that with an error, times out,
 * or sends no {@code base:allocation} extents, the endpoint says so once through its notes callback and from then on
 * reports everything as data: the copy is still right, only slower (nbdcopy gives up instead). As a target, zero
 * regions become NBD_CMD_WRITE_ZEROES of at most 1 GiB each, or written zeroes where the server cannot zero; flush is
 * NBD_CMD_FLUSH where the server takes it. The device is not closed by {@link #close()}.
 *
 * <p>{@link #regions} is called from the copying thread only; reads and writes are thread-safe as the device's are.
 */
public final class NbdEndpoint implements CopySource, CopyTarget {
    /** The largest single WRITE_ZEROES request. */
    private static final long MAX_ZERO_LENGTH = 1L << 30;

    private final String name;
    private final NbdBlockDevice device;
    private final Consumer<String> notes;
    /** False once block status failed: from then on everything is read. */
    private boolean extents;

    /**
     * Creates an endpoint.
     *
     * @param name how messages name it (its URI, say)
     * @param device the export
     * @param extents whether {@link #regions} asks block status ({@code base:allocation} must be negotiated)
     * @param notes where a one-line note goes when block status fails and everything is read instead; may be null
     */
    public NbdEndpoint(String name, NbdBlockDevice device, boolean extents, Consumer<String> notes) {
        this.name = Objects.requireNonNull(name, "name");
        this.device = Objects.requireNonNull(device, "device");
        this.extents = extents;
        this.notes = notes != null ? notes : m -> { };
    }

    /**
     * Returns the export's details.
     *
     * @return the device's export info
     */
    public NbdExportInfo info() {
        return device.exportInfo();
    }

    @Override
    public long size() {
        return device.size();
    }

    @Override
    public boolean async() {
        return true;
    }

    @Override
    public boolean stream() {
        return false;
    }

    @Override
    public boolean zeroesCheaply() {
        return info().canZero();
    }

    @Override
    public long maxRequest() {
        return Math.max(1, info().maximumBlockSize());
    }

    @Override
    public List<Region> regions(long offset, long length) throws Exception {
        if (!extents) {
            return List.of(new Region(offset, length, false));
        }
        List<Region> out = new ArrayList<>();
        long at = offset;
        long end = offset + length;
        while (at < end) {
            NbdBlockStatus st;
            try {
                st = awaitStatus(device.blockStatus(at, Math.min(end - at, 0x8000_0000L), 0));
            } catch (NbdCommandException | NbdTimeoutException e) {
                // The data is still right if every byte is read; but say so.
                giveUpExtents(at, e.getMessage());
                out.add(new Region(at, end - at, false));
                break;
            }
            List<NbdExtent> ex = st.extents(NbdMetaContext.BASE_ALLOCATION);
            if (ex.isEmpty()) {
                giveUpExtents(at, "the reply had no base:allocation extents");
                out.add(new Region(at, end - at, false));
                break;
            }
            for (NbdExtent e : ex) {
                long s = Math.max(e.offset(), at);
                long t = Math.min(e.end(), end);
                if (t <= s) {
                    continue;
                }
                Region.add(out, new Region(s, t - s, e.isZero()));
                at = t;
            }
        }
        return out;
    }

    private static NbdBlockStatus awaitStatus(CompletableFuture<NbdBlockStatus> f) throws Exception {
        try {
            return f.get();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.CompletionException e) {
            throw Copier.unwrap(e);
        }
    }

    private void giveUpExtents(long at, String why) {
        extents = false;
        notes.accept(name + ": block status failed at offset " + at + " (" + why + "): reading everything "
                + "from there on instead of skipping holes");
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return device.read(offset, length, 0);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data) {
        return device.write(offset, data, 0);
    }

    @Override
    public CompletableFuture<Void> zero(long offset, long length) {
        if (info().canZero()) {
            List<CompletableFuture<Void>> parts = new ArrayList<>();
            for (long at = offset; at < offset + length;) {
                long n = Math.min(offset + length - at, MAX_ZERO_LENGTH);
                parts.add(device.writeZeroes(at, n, 0));
                at += n;
            }
            return parts.size() == 1 ? parts.get(0) : CompletableFuture.allOf(parts.toArray(
                    CompletableFuture[]::new));
        }
        // No WRITE_ZEROES: write buffers of zeroes.
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        long chunk = Math.min(maxRequest(), 1L << 20);
        for (long at = offset; at < offset + length;) {
            int n = (int) Math.min(offset + length - at, chunk);
            ByteBuf zeroes = ByteBufAllocator.DEFAULT.buffer(n).writeZero(n);
            parts.add(device.write(at, zeroes, 0));
            at += n;
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
    }

    @Override
    public CompletableFuture<Void> flush() {
        return info().canFlush() ? device.flush() : CompletableFuture.completedFuture(null);
    }

    /** Does nothing: whoever opened the device closes it. */
    @Override
    public void close() {
    }

    @Override
    public String toString() {
        return name;
    }
}
