package io.nbdnetty.codec;

import java.util.Arrays;
import java.util.Objects;

/** One piece of export information carried by {@code NBD_REP_INFO}: a 16-bit type and its payload. */
public sealed interface NbdInfo {
    /**
     * Returns the information type.
     *
     * @return the type
     */
    NbdInfoType type();

    /**
     * {@code NBD_INFO_EXPORT}: size and transmission flags (12 bytes with the type).
     *
     * @param exportSize the size in bytes (unsigned)
     * @param transmissionFlags the {@link NbdTransmissionFlags}, 16 bits
     */
    record Export(long exportSize, int transmissionFlags) implements NbdInfo {
        /**
         * Checks the flags.
         *
         * @param exportSize the size
         * @param transmissionFlags the flags
         */
        public Export {
            NbdCodecUtil.checkUnsigned16(transmissionFlags, "transmissionFlags");
        }

        @Override
        public NbdInfoType type() {
            return NbdInfoType.EXPORT;
        }

        @Override
        public String toString() {
            return "Export[size=" + Long.toUnsignedString(exportSize) + ", flags="
                    + NbdTransmissionFlags.toString(transmissionFlags) + "]";
        }
    }

    /**
     * {@code NBD_INFO_NAME}: the canonical export name.
     *
     * @param name the name
     */
    record Name(String name) implements NbdInfo {
        /**
         * Checks the argument.
         *
         * @param name the name
         */
        public Name {
            Objects.requireNonNull(name, "name");
        }

        @Override
        public NbdInfoType type() {
            return NbdInfoType.NAME;
        }
    }

    /**
     * {@code NBD_INFO_DESCRIPTION}: a description for humans.
     *
     * @param description the description
     */
    record Description(String description) implements NbdInfo {
        /**
         * Checks the argument.
         *
         * @param description the description
         */
        public Description {
            Objects.requireNonNull(description, "description");
        }

        @Override
        public NbdInfoType type() {
            return NbdInfoType.DESCRIPTION;
        }
    }

    /**
     * {@code NBD_INFO_BLOCK_SIZE}: minimum, preferred and maximum block sizes (unsigned 32-bit each; 14 bytes with
     * the type).
     *
     * @param minimum the minimum block size
     * @param preferred the preferred block size
     * @param maximum the maximum payload size
     */
    record BlockSize(int minimum, int preferred, int maximum) implements NbdInfo {
        @Override
        public NbdInfoType type() {
            return NbdInfoType.BLOCK_SIZE;
        }

        @Override
        public String toString() {
            return "BlockSize[min=" + Integer.toUnsignedString(minimum) + ", preferred="
                    + Integer.toUnsignedString(preferred) + ", max=" + Integer.toUnsignedString(maximum) + "]";
        }
    }

    /**
     * An information type this codec does not know, or a known one whose payload has the wrong length.
     *
     * @param type the type
     * @param data the payload after the type
     */
    record Unknown(NbdInfoType type, byte[] data) implements NbdInfo {
        /**
         * Copies the data.
         *
         * @param type the type
         * @param data the data
         */
        public Unknown {
            Objects.requireNonNull(type, "type");
            data = data.clone();
        }

        /**
         * Returns a copy of the payload.
         *
         * @return the data
         */
        @Override
        public byte[] data() {
            return data.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Unknown u && u.type.equals(type) && Arrays.equals(u.data, data);
        }

        @Override
        public int hashCode() {
            return type.hashCode() * 31 + Arrays.hashCode(data);
        }

        @Override
        public String toString() {
            return "Unknown[" + type + ", " + data.length + " bytes]";
        }
    }
}
