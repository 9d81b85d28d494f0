package io.nbdnetty.codec;

import java.util.Objects;

/**
 * {@code NBD_REP_ACK}: the option succeeded (for list-like options: the list is complete).
 *
 * @param option the option acknowledged
 */
public record NbdAckReply(NbdOption option) implements NbdOptionReply {
    /**
     * Checks the argument.
     *
     * @param option the option
     */
    public NbdAckReply {
        Objects.requireNonNull(option, "option");
    }

    @Override
    public NbdOptionReplyType type() {
        return NbdOptionReplyType.ACK;
    }
}
