package io.nbdnetty.examples.cli;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdCommandException;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdUri;
import io.nbdnetty.client.backup.NbdBackup;
import io.nbdnetty.codec.NbdCommandType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * {@code nbd backup}: a full or incremental backup of an export with a qemu dirty bitmap (served for instance with
 * {@code qemu-nbd -B NAME}) to a file or another NBD export, through {@link NbdBackup}.
 */
@Command(name = "backup", mixinStandardHelpOptions = true,
        description = {"Back up an NBD export to a file or another export, using block status.",
                "Full (default): copies the data extents; holes stay sparse in a file and are zeroed on an export.",
                "Incremental: copies only what the dirty bitmap marks, onto a previous copy."})
public final class BackupCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @picocli.CommandLine.Mixin
    TlsEngineOption tlsEngine = new TlsEngineOption();

    @Option(names = "--bitmap", paramLabel = "NAME",
            description = "The dirty bitmap (context qemu:dirty-bitmap:NAME); required with --incremental.")
    String bitmap;

    @Option(names = "--incremental", description = {"Copy only the dirty ranges onto the previous backup: a file "
            + "needs the backup record (FILE.nbd-backup) its full backup left, with the same size, bitmap and source "
            + "id; an export needs the source's size."})
    boolean incremental;

    @Option(names = "--source-id", paramLabel = "ID",
            description = "Names the disk in the backup record (default: the source URI's export name); an "
                    + "incremental backup needs the same.")
    String sourceId;

    @Option(names = "--max-in-flight", paramLabel = "SIZE", defaultValue = "64M",
            description = "Bytes read but not yet written at most (default ${DEFAULT-VALUE}).")
    String maxInFlight;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "3600",
            description = "Give up after this long (default ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Parameters(index = "0", paramLabel = "SRC-URI",
            description = "The export to back up (an NBD URI).")
    String source;

    @Parameters(index = "1", paramLabel = "TARGET", description = "A file, or an NBD URI.")
    String target;

    @Override
    public Integer call() throws Exception {
        if (incremental && bitmap == null) {
            throw new IllegalArgumentException("--incremental needs --bitmap NAME");
        }
        PrintWriter out = spec.commandLine().getOut();
        NbdClientConfig.Builder cfg = NbdClientConfig.builder().addMetaContext(NbdMetaContext.BASE_ALLOCATION);
        String context = bitmap == null ? null : NbdMetaContext.QEMU_DIRTY_BITMAP_PREFIX + bitmap;
        if (context != null) {
            cfg.addMetaContext(context);
        }
        NbdUri sourceUri = NbdUri.parse(source);
        tlsEngine.apply(cfg, sourceUri.tls());
        try (NbdHandle src = NbdHandle.create(cfg.build())) {
            NbdConnection c = CliSupport.awaitConnection(sourceUri, src.connect(sourceUri));
            if (!c.canMetaContext(NbdMetaContext.BASE_ALLOCATION)) {
                throw new IllegalStateException("the source does not offer base:allocation block status");
            }
            if (context != null && !c.canMetaContext(context)) {
                throw new IllegalStateException("the source does not offer " + context
                        + " (serve the image with qemu-nbd -B " + bitmap + ")");
            }
            NbdBackup.Builder b = NbdBackup.builder(c).incremental(incremental)
                    .maxInFlightBytes(ServeCommand.parseSizeValue(maxInFlight));
            if (bitmap != null) {
                b.bitmap(bitmap);
            }
            String id = sourceId != null ? sourceId : NbdUri.parse(source).exportName();
            if (id != null && !id.isEmpty()) {
                b.sourceId(id);
            }
            NbdBackup backup = b.build();
            NbdBackup.Result r;
            try {
                if (looksLikeUri(target)) {
                    NbdUri targetUri = NbdUri.parse(target);
                    try (NbdHandle dst = NbdHandle.create(
                            tlsEngine.apply(NbdClientConfig.builder(), targetUri.tls()).build())) {
                        NbdConnection d = CliSupport.awaitConnection(targetUri, dst.connect(targetUri));
                        r = await(backup.toDevice(d));
                        await(d.disconnect());
                    }
                } else {
                    r = await(backup.toFile(Path.of(target)));
                }
            } catch (NbdCommandException e) {
                if (!e.command().equals(NbdCommandType.BLOCK_STATUS)) {
                    throw e;
                }
                // The plan comes first: nothing was copied. Unlike nbd copy, a backup does not guess without it.
                throw new NbdException(source + ": block status failed (" + e.getMessage() + "); a backup needs it "
                        + "to know what to copy, so nothing was copied", e);
            }
            await(c.disconnect());
            long dataRanges = r.ranges().stream().filter(x -> x.kind() == NbdBackup.Kind.DATA).count();
            out.printf("%s backup of %s: scanned %s, copied %s in %d data range(s), zeroed %s, left %s sparse%n",
                    incremental ? "incremental" : "full", source, Sizes.human(r.scannedBytes()),
                    Sizes.human(r.bytesCopied()), dataRanges, Sizes.human(r.bytesZeroed()),
                    Sizes.human(r.bytesSkipped()));
            out.printf("bytes copied: %d%n", r.bytesCopied());
            out.flush();
            return 0;
        }
    }

    private static boolean looksLikeUri(String s) {
        return s.startsWith("nbd://") || s.startsWith("nbds://") || s.startsWith("nbd+") || s.startsWith("nbds+");
    }

    private <T> T await(CompletableFuture<T> f) throws Exception {
        try {
            return f.get(timeoutSeconds, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        }
    }
}
