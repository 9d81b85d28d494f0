package io.nbdnetty.codec;

import java.util.Arrays;
import java.util.Objects;

/**
 * A non-error option reply of a type this codec does not know, with its raw data. A client that did not ask for such a
 * reply should treat it as a protocol error.
 *
 * @param option the option
 * @param type the reply type
 * @param data the data
 */
public record NbdUnknownOptionReply(NbdOption option, NbdOptionReplyType type, byte[] data)
        implements NbdOptionReply {
    /**
     * Copies the data.
     *
     * @param option the option
     * @param type the type
     * @param data the data
     */
    public NbdUnknownOptionReply {
        Objects.requireNonNull(option, "option");
        Objects.requireNonNull(type, "type");
        data = data.clone();
    }

    /**
     * Returns a copy of the data.
     *
     * @return the data
     */
    @Override
    public byte[] data() {
        return data.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NbdUnknownOptionReply r && r.option.equals(option) && r.type.equals(type)
                && Arrays.equals(r.data, data);
    }

    @Override
    public int hashCode() {
        return (option.hashCode() * 31 + type.hashCode()) * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "NbdUnknownOptionReply[" + option + ", " + type + ", " + data.length + " bytes]";
    }
}
