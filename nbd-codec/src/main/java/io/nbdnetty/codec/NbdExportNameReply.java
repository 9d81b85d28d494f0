package io.nbdnetty.codec;

/**
 * The server's answer to {@code NBD_OPT_EXPORT_NAME}: export size and transmission flags, followed by 124 zero bytes
 * unless both sides agreed on NO_ZEROES. It has no option reply header.
 *
 * @param exportSize the size of the export in bytes (unsigned)
 * @param transmissionFlags the {@link NbdTransmissionFlags}, 16 bits
 * @param zeroPadded whether the 124 zero bytes follow on the wire
 */
public record NbdExportNameReply(long exportSize, int transmissionFlags, boolean zeroPadded)
        implements NbdHandshakeMessage {
    /**
     * Checks the flags fit 16 bits.
     *
     * @param exportSize the size
     * @param transmissionFlags the flags
     * @param zeroPadded the padding
     */
    public NbdExportNameReply {
        NbdCodecUtil.checkUnsigned16(transmissionFlags, "transmissionFlags");
    }

    @Override
    public String toString() {
        return "NbdExportNameReply[size=" + Long.toUnsignedString(exportSize) + ", flags="
                + NbdTransmissionFlags.toString(transmissionFlags) + (zeroPadded ? ", zero padded" : "") + "]";
    }
}
