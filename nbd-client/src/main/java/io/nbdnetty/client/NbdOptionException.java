package io.nbdnetty.client;

import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdOptionReplyType;

/**
 * The server refused an option in the handshake with an {@code NBD_REP_ERR_*} reply. Carries the option, the error
 * type and the server's message.
 */
public class NbdOptionException extends NbdException {
    private static final long serialVersionUID = 1L;

    /** The option (not serialized). */
    private final transient NbdOption option;
    /** The reply type (not serialized). */
    private final transient NbdOptionReplyType replyType;
    /** The server message, part of the serial form. */
    private final String serverMessage;

    /**
     * Creates an exception.
     *
     * @param option the option refused
     * @param replyType the error reply type
     * @param serverMessage the server's message, possibly empty
     */
    public NbdOptionException(NbdOption option, NbdOptionReplyType replyType, String serverMessage) {
        super("server refused " + option + " with " + replyType
                + (serverMessage.isEmpty() ? "" : ": " + NbdStrings.shown(serverMessage)));
        this.option = option;
        this.replyType = replyType;
        this.serverMessage = serverMessage;
    }

    /**
     * Returns the option the server refused.
     *
     * @return the option
     */
    public NbdOption option() {
        return option;
    }

    /**
     * Returns the error reply type, e.g. {@code NBD_REP_ERR_UNKNOWN}.
     *
     * @return the reply type
     */
    public NbdOptionReplyType replyType() {
        return replyType;
    }

    /**
     * Returns the server's message (possibly empty).
     *
     * @return the message
     */
    public String serverMessage() {
        return serverMessage;
    }
}
