package io.nbdnetty.examples.cli.info;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdExportEntry;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdOptionException;
import io.nbdnetty.client.NbdStrings;
import io.nbdnetty.client.NbdUri;
import io.nbdnetty.examples.cli.CliSupport;
import io.netty.channel.EventLoopGroup;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Gathers the {@link Facts} nbd info describes, as nbdinfo does: opt mode, NBD_OPT_INFO with the name, description
 * and block size requests (NBD_OPT_GO when that is refused), NBD_OPT_LIST_META_CONTEXT with no query, and with
 * {@code --list} NBD_OPT_LIST first. Used from the command's thread only.
 */
final class ExportProbe {
    private final NbdUri uri;
    private final NbdClientConfig config;
    private final EventLoopGroup group;
    private final boolean probeContent;
    private final PrintWriter err;

    /**
     * @param config an opt-mode configuration asking for full info
     * @param err where an export of a list that cannot be described is reported (and skipped)
     */
    ExportProbe(NbdUri uri, NbdClientConfig config, EventLoopGroup group, boolean probeContent, PrintWriter err) {
        this.uri = uri;
        this.config = config;
        this.group = group;
        this.probeContent = probeContent;
        this.err = err;
    }

    /** Describes the URI's export, or with {@code list} every export of the server. */
    Description describe(boolean list) throws Exception {
        NbdHandle h = openNegotiating();
        List<Facts> all = new ArrayList<>();
        boolean ok = true;
        String protocol;
        boolean tls;
        boolean structured;
        try {
            if (list) {
                if (!h.isNegotiating()) {
                    throw new NbdException("cannot list the exports: the server does not support option "
                            + "negotiation (" + h.protocol() + ")");
                }
                List<NbdExportEntry> exports = CliSupport.await(h.optList());
                protocol = h.protocol();
                tls = h.tlsNegotiated();
                structured = h.structuredRepliesNegotiated();
                if (probeContent) {
                    finish(h);
                }
                for (NbdExportEntry e : exports) {
                    NbdHandle h2 = h;
                    if (probeContent) {
                        h2 = openNegotiating();
                    }
                    try {
                        if (h2.isNegotiating()) {
                            h2.setExportName(e.name());
                        }
                        all.add(showOne(h2, e.description(), true));
                    } catch (Exception ex) {
                        err.println("nbd info: " + message(ex) + forExport(e.name()));
                        err.flush();
                        ok = false;
                    } finally {
                        if (probeContent) {
                            finish(h2);
                        }
                    }
                }
            } else {
                protocol = h.protocol();
                tls = h.tlsNegotiated();
                structured = h.structuredRepliesNegotiated();
                try {
                    all.add(showOne(h, null, false));
                } catch (NbdOptionException e) {
                    throw new NbdException(message(e) + forExport(h.exportName())
                            + "; to list all exports on the server, use --list", e);
                }
            }
        } finally {
            finish(h);
        }
        return new Description(protocol, tls, structured, all, ok);
    }

    private NbdHandle openNegotiating() throws Exception {
        NbdHandle h = CliSupport.start(uri, config, group);
        try {
            try {
                CliSupport.await(h.negotiatingFuture());
            } catch (Exception e) {
                // A server without fixed newstyle cannot stop at negotiating; it goes straight to ready, as in libnbd.
                CliSupport.await(h.readyFuture());
            }
            return h;
        } catch (Exception e) {
            h.close();
            throw e;
        }
    }

    private static String message(Exception e) {
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    private static String forExport(String name) {
        return name.isEmpty() ? " for the default export" : " for export: " + name;
    }

    /** Ends a handle politely: NBD_OPT_ABORT while negotiating, NBD_CMD_DISC when ready; then closes it. */
    private static void finish(NbdHandle h) {
        try {
            if (h.isNegotiating()) {
                h.optAbort().get(5, TimeUnit.SECONDS);
            } else if (h.connection() != null && (h.isReady() || h.isProcessing())) {
                h.connection().disconnect().get(5, TimeUnit.SECONDS);
            }
        } catch (Exception ignored) {
            // The answer is already known; a server that hangs up first is fine.
        } finally {
            h.close();
        }
    }

    private Facts showOne(NbdHandle h, String listedDescription, boolean inList) throws Exception {
        NbdExportInfo info;
        if (h.isNegotiating()) {
            try {
                info = CliSupport.await(h.optInfo());
            } catch (NbdOptionException e) {
                if (inList) {
                    throw e;
                }
                info = CliSupport.await(h.optGo()).exportInfo();
            }
        } else {
            info = h.connection().exportInfo();
        }
        String name = info.canonicalName() != null ? info.canonicalName() : h.exportName();
        String desc = listedDescription != null ? listedDescription : info.description();
        List<String> contexts = null;
        if (h.isNegotiating() && h.structuredRepliesNegotiated()) {
            try {
                contexts = CliSupport.await(h.optListMetaContexts(List.of())).stream().map(NbdMetaContext::name)
                        .toList();
            } catch (NbdOptionException e) {
                contexts = null;
            }
        }
        String content = probeContent ? ContentProbe.content(h, info.size()) : null;
        // Server strings are shown at most 4,096 bytes long, as the protocol caps them (cut with "...").
        return new Facts(NbdStrings.shown(name), NbdStrings.shown(desc), info.size(), content, UriText.uriOf(h, uri),
                contexts == null ? null : contexts.stream().map(NbdStrings::shown).toList(), info,
                Features.canDf(h, info), Features.validBlockSizes(info));
    }
}
