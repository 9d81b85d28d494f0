package io.nbdnetty.codec;

/**
 * The oldstyle greeting: {@code NBDMAGIC}, the cliserv magic, the export size, 32 bits of flags and 124 zero bytes
 * (152 bytes). No options follow; transmission starts at once.
 *
 * @param exportSize the size of the export in bytes (unsigned)
 * @param flags 32 bits; the low 16 are the {@link NbdTransmissionFlags}
 */
public record NbdOldstyleGreeting(long exportSize, int flags) implements NbdServerGreeting {
    /**
     * Returns the transmission flags (the low 16 bits of the flags field).
     *
     * @return the transmission flags
     */
    public int transmissionFlags() {
        return flags & 0xffff;
    }

    @Override
    public String toString() {
        return "NbdOldstyleGreeting[size=" + Long.toUnsignedString(exportSize) + ", flags="
                + NbdTransmissionFlags.toString(transmissionFlags())
                + ((flags >>> 16) != 0 ? ", high=0x" + Integer.toHexString(flags >>> 16) : "") + "]";
    }
}
