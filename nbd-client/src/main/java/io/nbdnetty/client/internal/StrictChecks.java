package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdReplyStyle;
import io.nbdnetty.client.NbdStrict;
import io.nbdnetty.client.NbdStrictModeException;
import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.codec.NbdCommandType;

import java.util.List;

/**
 * The checks a request passes before it is sent, on the caller's thread: the encoding's own limits (whatever the
 * strict mode) and {@link NbdClientConfig#strictMode()}'s ({@link NbdStrict}). Stateless.
 */
final class StrictChecks {
    private static final long UNSIGNED_32 = 0xffffffffL;

    private StrictChecks() {
    }

    /**
     * The checks.
     *
     * @return why the request is refused, or null if it may go
     */
    static NbdException check(Request<?> r, int allowedFlags, NbdClientConfig config, NbdExportInfo info,
            NbdReplyStyle style, List<NbdMetaContext> contexts) {
        int strict = config.strictMode();
        NbdCommandType t = r.type;
        boolean compact = style != NbdReplyStyle.EXTENDED;
        if ((r.flags & ~0xffff) != 0) {
            return new NbdStrictModeException(NbdStrict.FLAGS, "command flags must fit 16 bits: 0x"
                    + Integer.toHexString(r.flags));
        }
        if ((r.flags & NbdCommandFlags.PAYLOAD_LEN) != 0 && (compact || !t.equals(NbdCommandType.WRITE))) {
            // Framing, not a request option: with it the server reads `length` bytes of payload after the header,
            // which no request but an extended WRITE carries here (the client sets it there itself). Sent anyway it
            // would desynchronise the stream, so it is refused whatever the strict mode.
            return new NbdStrictModeException(NbdStrict.FLAGS, t + " does not take NBD_CMD_FLAG_PAYLOAD_LEN"
                    + (compact ? " (it exists only with extended headers)" : " (the client sets it on WRITE itself)"));
        }
        if (r.length < 0 || r.offset < 0) {
            return new NbdStrictModeException(NbdStrict.BOUNDS, t + " offset and length must not be negative");
        }
        if (compact && r.length > UNSIGNED_32) {
            return new NbdStrictModeException(NbdStrict.BOUNDS, t + " length " + r.length
                    + " does not fit 32 bits without extended headers");
        }
        if (t.equals(NbdCommandType.READ) && r.length + 8 > config.maxReplyPayloadLength()) {
            // Its reply could arrive as one chunk (or one simple reply) larger than the decoder accepts, which would
            // kill the connection and every other request on it: refuse it here, whatever the strict mode.
            return new NbdStrictModeException(NbdStrict.PAYLOAD, "READ of " + r.length + " bytes exceeds "
                    + "maxReplyPayloadLength (" + config.maxReplyPayloadLength() + ", less 8 bytes of chunk "
                    + "header); split the request or raise the limit");
        }
        if ((strict & NbdStrict.FLAGS) != 0 && (r.flags & ~allowedFlags) != 0) {
            return new NbdStrictModeException(NbdStrict.FLAGS, t + " does not take flags "
                    + NbdCommandFlags.toString(r.flags & ~allowedFlags));
        }
        if ((strict & NbdStrict.COMMANDS) != 0) {
            String missing = unsupported(r, info, style, contexts);
            if (missing != null) {
                return new NbdStrictModeException(NbdStrict.COMMANDS, missing);
            }
        }
        if (t.equals(NbdCommandType.FLUSH)) {
            return null;
        }
        if ((strict & NbdStrict.ZERO_SIZE) != 0 && r.length == 0) {
            return new NbdStrictModeException(NbdStrict.ZERO_SIZE, t + " with length 0");
        }
        if ((strict & NbdStrict.BOUNDS) != 0 && (r.offset > info.size() || r.length > info.size() - r.offset)) {
            return new NbdStrictModeException(NbdStrict.BOUNDS, t + " of " + r.length + " bytes at offset "
                    + r.offset + " goes beyond the end of the export (" + info.size() + " bytes)");
        }
        if ((strict & NbdStrict.ALIGN) != 0 && info.blockSizeAdvertised()) {
            long min = info.minimumBlockSize();
            if (r.offset % min != 0 || r.length % min != 0) {
                return new NbdStrictModeException(NbdStrict.ALIGN, t + " at offset " + r.offset + " length "
                        + r.length + " is not aligned to the server's minimum block size " + min);
            }
        }
        if ((strict & NbdStrict.PAYLOAD) != 0 && (t.equals(NbdCommandType.READ) || t.equals(NbdCommandType.WRITE))
                && r.length > info.maximumBlockSize()) {
            return new NbdStrictModeException(NbdStrict.PAYLOAD, t + " of " + r.length
                    + " bytes exceeds the server's maximum block size " + info.maximumBlockSize()
                    + "; split the request");
        }
        return null;
    }

    /** Returns why the server does not support this request, or null if it does. */
    private static String unsupported(Request<?> r, NbdExportInfo info, NbdReplyStyle style,
            List<NbdMetaContext> contexts) {
        NbdCommandType t = r.type;
        boolean writes = t.equals(NbdCommandType.WRITE) || t.equals(NbdCommandType.TRIM)
                || t.equals(NbdCommandType.WRITE_ZEROES);
        if (writes && info.isReadOnly()) {
            return t + " on a read-only export";
        }
        if (t.equals(NbdCommandType.FLUSH) && !info.canFlush()) {
            return "the server does not support NBD_CMD_FLUSH";
        }
        if (t.equals(NbdCommandType.TRIM) && !info.canTrim()) {
            return "the server does not support NBD_CMD_TRIM";
        }
        if (t.equals(NbdCommandType.WRITE_ZEROES) && !info.canZero()) {
            return "the server does not support NBD_CMD_WRITE_ZEROES";
        }
        if (t.equals(NbdCommandType.CACHE) && !info.canCache()) {
            return "the server does not support NBD_CMD_CACHE";
        }
        if (t.equals(NbdCommandType.BLOCK_STATUS) && contexts.isEmpty()) {
            return "NBD_CMD_BLOCK_STATUS needs a metadata context, and none was negotiated";
        }
        if ((r.flags & NbdCommandFlags.FUA) != 0 && !info.canFua()) {
            return "the server does not support the FUA flag";
        }
        if ((r.flags & NbdCommandFlags.DF) != 0 && (!info.canDf() || style == NbdReplyStyle.SIMPLE)) {
            return "the server does not support the DF flag";
        }
        if ((r.flags & NbdCommandFlags.FAST_ZERO) != 0 && !info.canFastZero()) {
            return "the server does not support the FAST_ZERO flag";
        }
        return null;
    }
}
