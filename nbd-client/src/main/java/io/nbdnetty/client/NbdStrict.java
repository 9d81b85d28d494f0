package io.nbdnetty.client;

/**
 * Strict-mode checks, a bitmask like libnbd's {@code set_strict_mode}: each set bit makes the client refuse, before
 * sending anything, requests the server might treat as undefined behaviour. All are on by default; switch some off to
 * test how a server copes.
 */
public final class NbdStrict {
    /** Refuse commands and command flags the server did not advertise (e.g. WRITE on a read-only export). */
    public static final int COMMANDS = 0x1;
    /** Refuse unknown command flags, and flags that do not belong to the command. */
    public static final int FLAGS = 0x2;
    /** Refuse requests beyond the end of the export. */
    public static final int BOUNDS = 0x4;
    /** Refuse zero-length requests. */
    public static final int ZERO_SIZE = 0x8;
    /** Refuse offsets and lengths not aligned to the server's minimum block size. */
    public static final int ALIGN = 0x10;
    /** Refuse payloads larger than the server's maximum (or 32 MiB if it gave none). */
    public static final int PAYLOAD = 0x20;
    /**
     * Refuse, as a protocol error, a block status reply whose extents run past the end of the export. Without it
     * (the default: it is not part of {@link #ALL}) such an extent is cut at the end of the export, the extents after
     * it are dropped, and {@link NbdListener#extentsBeyondEnd} is told; either way no extent handed to the caller
     * describes a byte past the end of the export.
     */
    public static final int EXTENTS = 0x40;
    /** Every check on requests (not {@link #EXTENTS}, which checks replies). */
    public static final int ALL = COMMANDS | FLAGS | BOUNDS | ZERO_SIZE | ALIGN | PAYLOAD;

    private NbdStrict() {
    }
}
