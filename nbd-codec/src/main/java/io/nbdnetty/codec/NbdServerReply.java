package io.nbdnetty.codec;

import java.util.Objects;

/**
 * {@code NBD_REP_SERVER}: one export in the answer to {@code NBD_OPT_LIST}: name length (32 bits), name, and the
 * rest of the data as a description.
 *
 * @param option the option (normally {@link NbdOption#LIST})
 * @param exportName the export's name
 * @param description the description, possibly empty
 */
public record NbdServerReply(NbdOption option, String exportName, String description) implements NbdOptionReply {
    /**
     * Checks the arguments.
     *
     * @param option the option
     * @param exportName the name
     * @param description the description
     */
    public NbdServerReply {
        Objects.requireNonNull(option, "option");
        Objects.requireNonNull(exportName, "exportName");
        Objects.requireNonNull(description, "description");
    }

    @Override
    public NbdOptionReplyType type() {
        return NbdOptionReplyType.SERVER;
    }
}
