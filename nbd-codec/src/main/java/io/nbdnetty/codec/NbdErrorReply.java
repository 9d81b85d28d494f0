package io.nbdnetty.codec;

import java.util.Objects;

/**
 * An error reply ({@code NBD_REP_ERR_*}, bit 31 set), with the server's message (possibly empty).
 *
 * @param option the option refused
 * @param type the error type
 * @param message the server's message for humans
 */
public record NbdErrorReply(NbdOption option, NbdOptionReplyType type, String message) implements NbdOptionReply {
    /**
     * Checks the arguments.
     *
     * @param option the option
     * @param type the type, which must be an error type
     * @param message the message
     */
    public NbdErrorReply {
        Objects.requireNonNull(option, "option");
        if (!type.isError()) {
            throw new IllegalArgumentException("not an error reply type: " + type);
        }
        Objects.requireNonNull(message, "message");
    }
}
