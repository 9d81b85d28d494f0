package io.nbdnetty.client;

import io.nbdnetty.codec.NbdTransmissionFlags;

/**
 * What the server said about an export: size, transmission flags, block size constraints, canonical name and
 * description. Immutable. The {@code can*}/{@code is*} methods mirror libnbd's.
 *
 * @param size the export size in bytes
 * @param transmissionFlags the {@link NbdTransmissionFlags}
 * @param minimumBlockSize the minimum block size (1 if the server gave none)
 * @param preferredBlockSize the preferred block size (4096 if the server gave none, or the minimum if larger)
 * @param maximumBlockSize the maximum payload ({@link #DEFAULT_MAXIMUM_PAYLOAD}, 32 MiB, if the server gave none)
 * @param blockSizeAdvertised whether the server sent NBD_INFO_BLOCK_SIZE
 * @param canonicalName the name from NBD_INFO_NAME, or the requested name if the server sent none
 * @param description the description from NBD_INFO_DESCRIPTION, or null if none
 */
public record NbdExportInfo(long size, int transmissionFlags, long minimumBlockSize, long preferredBlockSize,
        long maximumBlockSize, boolean blockSizeAdvertised, String canonicalName, String description) {

    /** The maximum payload assumed when the server advertises none (proto.md, "Block size constraints"). */
    public static final long DEFAULT_MAXIMUM_PAYLOAD = 32L * 1024 * 1024;

    private boolean has(int flag) {
        return (transmissionFlags & flag) != 0;
    }

    /**
     * Whether the export is read-only.
     *
     * @return NBD_FLAG_READ_ONLY
     */
    public boolean isReadOnly() {
        return has(NbdTransmissionFlags.READ_ONLY);
    }

    /**
     * Whether FLUSH is supported.
     *
     * @return NBD_FLAG_SEND_FLUSH
     */
    public boolean canFlush() {
        return has(NbdTransmissionFlags.SEND_FLUSH);
    }

    /**
     * Whether the FUA flag is supported.
     *
     * @return NBD_FLAG_SEND_FUA
     */
    public boolean canFua() {
        return has(NbdTransmissionFlags.SEND_FUA);
    }

    /**
     * Whether the export is rotational media.
     *
     * @return NBD_FLAG_ROTATIONAL
     */
    public boolean isRotational() {
        return has(NbdTransmissionFlags.ROTATIONAL);
    }

    /**
     * Whether TRIM is supported.
     *
     * @return NBD_FLAG_SEND_TRIM
     */
    public boolean canTrim() {
        return has(NbdTransmissionFlags.SEND_TRIM);
    }

    /**
     * Whether WRITE_ZEROES is supported.
     *
     * @return NBD_FLAG_SEND_WRITE_ZEROES
     */
    public boolean canZero() {
        return has(NbdTransmissionFlags.SEND_WRITE_ZEROES);
    }

    /**
     * Whether the FAST_ZERO flag is supported.
     *
     * @return NBD_FLAG_SEND_FAST_ZERO
     */
    public boolean canFastZero() {
        return has(NbdTransmissionFlags.SEND_FAST_ZERO);
    }

    /**
     * Whether the DF flag is supported.
     *
     * @return NBD_FLAG_SEND_DF
     */
    public boolean canDf() {
        return has(NbdTransmissionFlags.SEND_DF);
    }

    /**
     * Whether several connections to this export see each other's writes after a flush.
     *
     * @return NBD_FLAG_CAN_MULTI_CONN
     */
    public boolean canMultiConn() {
        return has(NbdTransmissionFlags.CAN_MULTI_CONN);
    }

    /**
     * Whether CACHE is supported.
     *
     * @return NBD_FLAG_SEND_CACHE
     */
    public boolean canCache() {
        return has(NbdTransmissionFlags.SEND_CACHE);
    }

    /**
     * Whether block status accepts a payload naming the contexts wanted.
     *
     * @return NBD_FLAG_BLOCK_STATUS_PAYLOAD
     */
    public boolean canBlockStatusPayload() {
        return has(NbdTransmissionFlags.BLOCK_STATUS_PAYLOAD);
    }

    @Override
    public String toString() {
        return "NbdExportInfo[size=" + size + ", flags=" + NbdTransmissionFlags.toString(transmissionFlags)
                + ", block sizes=" + minimumBlockSize + "/" + preferredBlockSize + "/" + maximumBlockSize
                + (canonicalName != null ? ", name=\"" + canonicalName + "\"" : "")
                + (description != null ? ", description=\"" + description + "\"" : "") + "]";
    }
}
