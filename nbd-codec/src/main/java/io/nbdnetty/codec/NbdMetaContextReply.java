package io.nbdnetty.codec;

import java.util.Objects;

/**
 * {@code NBD_REP_META_CONTEXT}: one metadata context, with the 32-bit id the server gave it (meaningful only for
 * {@code NBD_OPT_SET_META_CONTEXT}) and its name.
 *
 * @param option the option
 * @param contextId the id used in block status replies
 * @param name the context name, e.g. {@code base:allocation}
 */
public record NbdMetaContextReply(NbdOption option, int contextId, String name) implements NbdOptionReply {
    /**
     * Checks the arguments.
     *
     * @param option the option
     * @param contextId the id
     * @param name the name
     */
    public NbdMetaContextReply {
        Objects.requireNonNull(option, "option");
        Objects.requireNonNull(name, "name");
    }

    @Override
    public NbdOptionReplyType type() {
        return NbdOptionReplyType.META_CONTEXT;
    }
}
