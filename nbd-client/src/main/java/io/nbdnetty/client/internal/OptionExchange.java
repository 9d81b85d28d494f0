package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdExportEntry;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdOptionException;
import io.nbdnetty.client.NbdProtocolException;
import io.nbdnetty.codec.NbdAckReply;
import io.nbdnetty.codec.NbdErrorReply;
import io.nbdnetty.codec.NbdInfo;
import io.nbdnetty.codec.NbdInfoReply;
import io.nbdnetty.codec.NbdMetaContextReply;
import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdOptionReply;
import io.nbdnetty.codec.NbdOptionRequest;
import io.nbdnetty.codec.NbdServerReply;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One option in flight during the handshake and the replies it gathers. Each subclass accepts only the reply types
 * the spec allows for its option; anything else is a protocol error. Used only on the event loop.
 *
 * @param <T> the result
 */
abstract class OptionExchange<T> {
    final NbdOptionRequest request;
    final CompletableFuture<T> result = new CompletableFuture<>();

    OptionExchange(NbdOptionRequest request) {
        this.request = request;
    }

    NbdOption option() {
        return request.option();
    }

    /**
     * Handles one reply to this option.
     *
     * @return true when the exchange is over (result completed)
     * @throws NbdProtocolException if the server broke the protocol
     */
    final boolean onReply(NbdOptionReply reply) throws NbdProtocolException {
        if (!reply.option().equals(option())) {
            throw new NbdProtocolException("server replied to " + reply.option() + " while " + option()
                    + " was in flight");
        }
        if (reply instanceof NbdErrorReply e) {
            result.completeExceptionally(new NbdOptionException(option(), e.type(), e.message()));
            return true;
        }
        if (reply instanceof NbdAckReply) {
            result.complete(onAck());
            return true;
        }
        if (!accept(reply)) {
            throw new NbdProtocolException("server sent " + reply.type() + " in reply to " + option()
                    + ", which does not allow it");
        }
        return false;
    }

    /** Handles a non-final reply; returns false if its type is not allowed for this option. */
    boolean accept(NbdOptionReply reply) throws NbdProtocolException {
        return false;
    }

    abstract T onAck() throws NbdProtocolException;

    /** An option answered by a bare ACK (STRUCTURED_REPLY, EXTENDED_HEADERS, STARTTLS, ABORT). */
    static final class Ack extends OptionExchange<Boolean> {
        Ack(NbdOptionRequest request) {
            super(request);
        }

        @Override
        Boolean onAck() {
            return Boolean.TRUE;
        }
    }

    /** NBD_OPT_LIST: REP_SERVER replies, then ACK. */
    static final class ExportList extends OptionExchange<List<NbdExportEntry>> {
        private final List<NbdExportEntry> exports = new ArrayList<>();
        private final int limit;

        ExportList(NbdOptionRequest request, int limit) {
            super(request);
            this.limit = limit;
        }

        @Override
        boolean accept(NbdOptionReply reply) throws NbdProtocolException {
            if (!(reply instanceof NbdServerReply s)) {
                return false;
            }
            if (exports.size() >= limit) {
                throw new NbdProtocolException("server listed more than " + limit + " exports");
            }
            exports.add(new NbdExportEntry(s.exportName(), s.description()));
            return true;
        }

        @Override
        List<NbdExportEntry> onAck() {
            return List.copyOf(exports);
        }
    }

    /** NBD_OPT_LIST_META_CONTEXT / SET_META_CONTEXT: REP_META_CONTEXT replies, then ACK. */
    static final class MetaContexts extends OptionExchange<List<NbdMetaContext>> {
        private final Map<String, NbdMetaContext> contexts = new LinkedHashMap<>();
        private final boolean set;
        private final int limit;

        MetaContexts(NbdOptionRequest request, boolean set, int limit) {
            super(request);
            this.set = set;
            this.limit = limit;
        }

        @Override
        boolean accept(NbdOptionReply reply) throws NbdProtocolException {
            if (!(reply instanceof NbdMetaContextReply m)) {
                return false;
            }
            if (contexts.size() >= limit) {
                throw new NbdProtocolException("server sent more than " + limit + " metadata contexts");
            }
            if (contexts.containsKey(m.name())) {
                throw new NbdProtocolException("server sent metadata context " + m.name() + " twice");
            }
            if (set) {
                for (NbdMetaContext c : contexts.values()) {
                    if (c.id() == m.contextId()) {
                        throw new NbdProtocolException("server gave id " + Integer.toUnsignedString(m.contextId())
                                + " to both " + c.name() + " and " + m.name());
                    }
                }
            }
            contexts.put(m.name(), new NbdMetaContext(m.contextId(), m.name()));
            return true;
        }

        @Override
        List<NbdMetaContext> onAck() {
            return List.copyOf(contexts.values());
        }
    }

    /** NBD_OPT_INFO / GO: REP_INFO replies (EXPORT required), then ACK. */
    static final class Info extends OptionExchange<NbdExportInfo> {
        private final String requestedName;
        private NbdInfo.Export export;
        private NbdInfo.BlockSize blockSize;
        private String name;
        private String description;

        Info(NbdOptionRequest request, String requestedName) {
            super(request);
            this.requestedName = requestedName;
        }

        @Override
        boolean accept(NbdOptionReply reply) throws NbdProtocolException {
            if (!(reply instanceof NbdInfoReply r)) {
                return false;
            }
            NbdInfo info = r.info();
            if (info instanceof NbdInfo.Export e) {
                export = e;
            } else if (info instanceof NbdInfo.BlockSize b) {
                checkBlockSize(b);
                blockSize = b;
            } else if (info instanceof NbdInfo.Name n) {
                name = n.name();
            } else if (info instanceof NbdInfo.Description d) {
                description = d.description();
            }
            // Unknown information types are ignored, as the spec asks of clients.
            return true;
        }

        private static void checkBlockSize(NbdInfo.BlockSize b) throws NbdProtocolException {
            long min = Integer.toUnsignedLong(b.minimum());
            long pref = Integer.toUnsignedLong(b.preferred());
            long max = Integer.toUnsignedLong(b.maximum());
            boolean ok = min >= 1 && min <= 65536 && Long.bitCount(min) == 1 && Long.bitCount(pref) == 1
                    && pref >= min && max >= min && (max % min == 0 || max == 0xffffffffL);
            if (!ok) {
                throw new NbdProtocolException("server sent invalid block size constraints " + b
                        + " (minimum must be a power of 2 up to 64 KiB, preferred a power of 2 at least the minimum,"
                        + " maximum a multiple of the minimum)");
            }
        }

        @Override
        NbdExportInfo onAck() throws NbdProtocolException {
            if (export == null) {
                throw new NbdProtocolException("server acknowledged " + option() + " without NBD_INFO_EXPORT");
            }
            if (export.exportSize() < 0) {
                throw new NbdProtocolException("export size " + Long.toUnsignedString(export.exportSize())
                        + " is larger than this client supports (2^63 - 1)");
            }
            long min = blockSize != null ? Integer.toUnsignedLong(blockSize.minimum()) : 1;
            long pref = blockSize != null ? Integer.toUnsignedLong(blockSize.preferred()) : Math.max(4096, min);
            long max = blockSize != null ? Integer.toUnsignedLong(blockSize.maximum())
                    : NbdExportInfo.DEFAULT_MAXIMUM_PAYLOAD;
            return new NbdExportInfo(export.exportSize(), export.transmissionFlags(), min, pref, max,
                    blockSize != null, name != null ? name : requestedName, description);
        }
    }
}
