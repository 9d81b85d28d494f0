package io.nbdnetty.client;

import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdOptionReplyType;

import java.util.Map;

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
        super("server refused " + option + " with " + replyType + inWords(replyType)
                + (serverMessage.isEmpty() ? "" : ": " + NbdStrings.shown(serverMessage)));
        this.option = option;
        this.replyType = replyType;
        this.serverMessage = serverMessage;
    }

    /** What each error reply of the spec means, in words, for the message. */
    private static final Map<NbdOptionReplyType, String> WORDS = Map.of(
            NbdOptionReplyType.ERR_UNSUP, "the server does not support this option",
            NbdOptionReplyType.ERR_POLICY, "the server's policy forbids it",
            NbdOptionReplyType.ERR_INVALID, "the server found the request invalid",
            NbdOptionReplyType.ERR_PLATFORM, "not available on the server's platform",
            NbdOptionReplyType.ERR_TLS_REQD, "the server requires TLS first",
            NbdOptionReplyType.ERR_UNKNOWN, "the export is not available",
            NbdOptionReplyType.ERR_SHUTDOWN, "the server is shutting down",
            NbdOptionReplyType.ERR_BLOCK_SIZE_REQD, "the server requires the client to ask for its block sizes",
            NbdOptionReplyType.ERR_TOO_BIG, "the request or its reply is too large",
            NbdOptionReplyType.ERR_EXT_HEADER_REQD, "the server requires extended headers first");

    private static String inWords(NbdOptionReplyType replyType) {
        String words = WORDS.get(replyType);
        return words == null ? "" : " (" + words + ")";
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
