package io.nbdnetty.examples.server;

import io.nbdnetty.codec.NbdTransmissionFlags;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.LongAdder;

/**
 * What every connection of one {@link NbdServer} needs to know; immutable.
 *
 * @param exports the exports by name, in the order added
 * @param readOnly serve everything read-only
 * @param structuredReplies accept NBD_OPT_STRUCTURED_REPLY
 * @param extendedHeaders accept NBD_OPT_EXTENDED_HEADERS
 * @param blockSizes minimum, preferred, maximum; null when not configured
 * @param multiConn advertise NBD_FLAG_CAN_MULTI_CONN
 * @param oldstyle oldstyle handshake
 * @param ioExecutor runs calls to blocking exports; null if there are none
 * @param extendedSessions counts the connections that entered transmission with extended headers
 */
record ServerConfig(Map<String, ExportEntry> exports, boolean readOnly, boolean structuredReplies,
        boolean extendedHeaders, int[] blockSizes, boolean multiConn, boolean oldstyle, Executor ioExecutor,
        LongAdder extendedSessions) {

    /** The base:allocation context id this server hands out. */
    static final int BASE_ALLOCATION_ID = 1;
    /** The metadata context of the spec. */
    static final String BASE_ALLOCATION = "base:allocation";
    /** The qemu:allocation-depth context id this server hands out. */
    static final int ALLOCATION_DEPTH_ID = 2;
    /**
     * qemu's allocation depth (qemu's docs/interop/nbd.txt): the depth in the backing chain where an extent is
     * allocated, 0 where nowhere. These exports have no backing chain: 0 for holes, 1 for allocated data.
     */
    static final String ALLOCATION_DEPTH = "qemu:allocation-depth";
    /** A selection of contexts is a bit mask: this bit for base:allocation. */
    static final int SELECT_BASE_ALLOCATION = 1;
    /** A selection of contexts is a bit mask: this bit for qemu:allocation-depth. */
    static final int SELECT_ALLOCATION_DEPTH = 2;

    /** Returns the selection bit of a context id, or 0 for an id this server does not hand out. */
    static int selectionBit(int contextId) {
        return contextId == BASE_ALLOCATION_ID ? SELECT_BASE_ALLOCATION
                : contextId == ALLOCATION_DEPTH_ID ? SELECT_ALLOCATION_DEPTH : 0;
    }

    ServerConfig {
        // Keep the insertion order: it is the order of NBD_OPT_LIST, and the first export is the default.
        exports = Collections.unmodifiableMap(new LinkedHashMap<>(exports));
    }

    /** Returns the export the empty name means: the one named "", else the first added. */
    ExportEntry defaultExport() {
        ExportEntry e = exports.get("");
        return e != null ? e : exports.values().iterator().next();
    }

    /** Returns the export a client names, or null. */
    ExportEntry lookup(String name) {
        return name.isEmpty() ? defaultExport() : exports.get(name);
    }

    /** Returns the maximum payload in force. */
    int maxPayload() {
        return blockSizes != null ? blockSizes[2] : NbdServer.DEFAULT_MAX_PAYLOAD;
    }

    /** Returns the minimum block size in force (1 if none configured). */
    int minBlockSize() {
        return blockSizes != null ? blockSizes[0] : 1;
    }

    /** Whether writes to this export are refused. */
    boolean isReadOnly(ExportEntry e) {
        return readOnly || e.export().isReadOnly();
    }

    /**
     * Computes the transmission flags for one connection (proto.md, "Transmission flags").
     *
     * @param e the export
     * @param structured whether structured replies or extended headers were negotiated
     * @param extended whether extended headers were negotiated
     * @param contexts whether metadata contexts were selected for this export
     * @return the flags
     */
    int transmissionFlags(ExportEntry e, boolean structured, boolean extended, boolean contexts) {
        int f = NbdTransmissionFlags.HAS_FLAGS | NbdTransmissionFlags.SEND_FLUSH | NbdTransmissionFlags.SEND_FUA
                | NbdTransmissionFlags.SEND_CACHE;
        if (isReadOnly(e)) {
            f |= NbdTransmissionFlags.READ_ONLY;
        } else {
            f |= NbdTransmissionFlags.SEND_TRIM | NbdTransmissionFlags.SEND_WRITE_ZEROES
                    | NbdTransmissionFlags.SEND_FAST_ZERO;
        }
        if (multiConn) {
            f |= NbdTransmissionFlags.CAN_MULTI_CONN;
        }
        if (structured) {
            f |= NbdTransmissionFlags.SEND_DF;
        }
        if (extended && contexts) {
            f |= NbdTransmissionFlags.BLOCK_STATUS_PAYLOAD;
        }
        return f;
    }
}
