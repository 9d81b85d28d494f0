package io.nbdnetty.codec;

import java.util.Objects;

/**
 * {@code NBD_REP_INFO}: one piece of information about the export named in {@code NBD_OPT_INFO/GO}.
 *
 * @param option the option ({@link NbdOption#INFO} or {@link NbdOption#GO})
 * @param info the information
 */
public record NbdInfoReply(NbdOption option, NbdInfo info) implements NbdOptionReply {
    /**
     * Checks the arguments.
     *
     * @param option the option
     * @param info the information
     */
    public NbdInfoReply {
        Objects.requireNonNull(option, "option");
        Objects.requireNonNull(info, "info");
    }

    @Override
    public NbdOptionReplyType type() {
        return NbdOptionReplyType.INFO;
    }
}
