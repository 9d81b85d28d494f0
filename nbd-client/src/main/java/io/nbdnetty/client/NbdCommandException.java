package io.nbdnetty.client;

import io.nbdnetty.codec.NbdCommandType;
import io.nbdnetty.codec.NbdErrno;

/**
 * The server answered a command with an error. Carries the command, the NBD error number, the server's message (from
 * a structured error chunk; empty for a simple reply) and, for {@code NBD_REPLY_TYPE_ERROR_OFFSET}, the offset. The
 * connection stays usable.
 */
public class NbdCommandException extends NbdException {
    private static final long serialVersionUID = 1L;

    /** The command (not serialized). */
    private final transient NbdCommandType command;
    /** The error (not serialized). */
    private final transient NbdErrno error;
    /** The server message, part of the serial form. */
    private final String serverMessage;
    /** The error offset, part of the serial form. */
    private final long errorOffset;

    /**
     * Creates an exception.
     *
     * @param command the command that failed
     * @param error the error number
     * @param serverMessage the server's message, possibly empty
     * @param errorOffset the offset of the error, or -1 if the server gave none
     */
    public NbdCommandException(NbdCommandType command, NbdErrno error, String serverMessage, long errorOffset) {
        super(command + " failed: " + error + " (" + error.description() + ")"
                + (errorOffset >= 0 ? " at offset " + errorOffset : "")
                + (serverMessage.isEmpty() ? "" : ": " + NbdStrings.shown(serverMessage)));
        this.command = command;
        this.error = error;
        this.serverMessage = serverMessage;
        this.errorOffset = errorOffset;
    }

    /**
     * Returns the command that failed.
     *
     * @return the command
     */
    public NbdCommandType command() {
        return command;
    }

    /**
     * Returns the NBD error number, e.g. {@link NbdErrno#EIO}.
     *
     * @return the error
     */
    public NbdErrno error() {
        return error;
    }

    /**
     * Returns the server's message (possibly empty).
     *
     * @return the message
     */
    public String serverMessage() {
        return serverMessage;
    }

    /**
     * Returns where the error happened, from an {@code ERROR_OFFSET} chunk.
     *
     * @return the offset, or -1 if the server gave none
     */
    public long errorOffset() {
        return errorOffset;
    }
}
