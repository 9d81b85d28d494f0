package io.nbdnetty.codec;

import java.util.Objects;

/**
 * An error chunk: {@code NBD_REPLY_TYPE_ERROR}, {@code NBD_REPLY_TYPE_ERROR_OFFSET} (which adds the offset where the
 * error happened), or another type with bit 15 set, which the spec says to treat as an error for that request.
 */
public final class NbdErrorChunk extends NbdReplyChunk {
    private final NbdErrno error;
    private final String message;
    private final long errorOffset;
    private final long payloadLength;

    /**
     * Creates the chunk.
     *
     * @param flags the reply flags
     * @param type an error type ({@link NbdReplyType#isError()})
     * @param cookie the cookie
     * @param headerOffset the extended header's offset field, 0 in compact mode
     * @param error the error number (the spec requires non-zero)
     * @param message the message for humans, possibly empty
     * @param errorOffset for {@code ERROR_OFFSET}, where the error happened; ignored for other types
     */
    public NbdErrorChunk(int flags, NbdReplyType type, long cookie, long headerOffset, NbdErrno error,
            String message, long errorOffset) {
        this(flags, type, cookie, headerOffset, error, message, errorOffset, -1);
    }

    NbdErrorChunk(int flags, NbdReplyType type, long cookie, long headerOffset, NbdErrno error, String message,
            long errorOffset, long payloadLength) {
        super(flags, type, cookie, headerOffset);
        if (!type.isError()) {
            throw new IllegalArgumentException("not an error chunk type: " + type);
        }
        this.error = Objects.requireNonNull(error, "error");
        this.message = Objects.requireNonNull(message, "message");
        this.errorOffset = type.equals(NbdReplyType.ERROR_OFFSET) ? errorOffset : 0;
        this.payloadLength = payloadLength >= 0 ? payloadLength
                : 6 + NbdCodecUtil.utf8(message, "error message").length + (hasErrorOffset() ? 8 : 0);
    }

    /**
     * Returns the error number.
     *
     * @return the error
     */
    public NbdErrno error() {
        return error;
    }

    /**
     * Returns the server's message, possibly empty.
     *
     * @return the message
     */
    public String message() {
        return message;
    }

    /**
     * Whether the chunk carries an offset ({@code NBD_REPLY_TYPE_ERROR_OFFSET}).
     *
     * @return true for ERROR_OFFSET
     */
    public boolean hasErrorOffset() {
        return type().equals(NbdReplyType.ERROR_OFFSET);
    }

    /**
     * Returns the offset of the error for {@code ERROR_OFFSET}, 0 otherwise.
     *
     * @return the offset
     */
    public long errorOffset() {
        return errorOffset;
    }

    @Override
    public long payloadLength() {
        return payloadLength;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NbdErrorChunk c && c.flags() == flags() && c.type().equals(type())
                && c.cookie() == cookie() && c.headerOffset() == headerOffset() && c.error.equals(error)
                && c.message.equals(message) && c.errorOffset == errorOffset;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(cookie()) * 31 + error.hashCode();
    }

    @Override
    public String toString() {
        return "NbdErrorChunk[" + header() + ", error=" + error
                + (hasErrorOffset() ? ", errorOffset=" + Long.toUnsignedString(errorOffset) : "")
                + (message.isEmpty() ? "" : ", message=\"" + message + "\"") + "]";
    }
}
