package io.nbdnetty.codec;

import java.util.Arrays;
import java.util.Objects;

/**
 * An option with its data as raw bytes: an option this codec does not know, a known one whose data does not have
 * the layout the spec gives it (a server decoder produces this so the server can answer {@code
 * NBD_REP_ERR_INVALID}), or a deliberately odd request in a test.
 *
 * @param option the option
 * @param data the data, as on the wire
 * @param malformed true if the option is known but its data could not be parsed
 */
public record NbdRawOption(NbdOption option, byte[] data, boolean malformed) implements NbdOptionRequest {
    /**
     * Copies the data.
     *
     * @param option the option
     * @param data the data
     * @param malformed whether it was malformed
     */
    public NbdRawOption {
        Objects.requireNonNull(option, "option");
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

    /**
     * Returns the length of the data without copying it.
     *
     * @return the length
     */
    public int length() {
        return data.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NbdRawOption r && r.option.equals(option) && Arrays.equals(r.data, data)
                && r.malformed == malformed;
    }

    @Override
    public int hashCode() {
        return option.hashCode() * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "NbdRawOption[" + option + ", " + data.length + " bytes" + (malformed ? ", malformed" : "") + "]";
    }
}
