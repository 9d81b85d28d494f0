package io.nbdnetty.codec;

/**
 * A reply chunk of a type the decoder does not know and that is not an error type (bit 15 clear): the spec says the
 * client must then disconnect, since it cannot know what the chunk means.
 */
public final class NbdUnknownReplyTypeException extends NbdDecoderException {
    private static final long serialVersionUID = 1L;

    /** The type's code, part of the serial form (an int: {@link NbdReplyType} is not serializable). */
    private final int typeCode;

    /**
     * Creates an exception.
     *
     * @param type the type received
     * @param cookie the cookie of the chunk
     * @param streamOffset where in the stream
     */
    public NbdUnknownReplyTypeException(NbdReplyType type, long cookie, long streamOffset) {
        super("unknown non-error reply chunk type " + type + " for cookie " + Long.toUnsignedString(cookie),
                streamOffset);
        this.typeCode = type.code();
    }

    /**
     * Returns the type received.
     *
     * @return the reply type
     */
    public NbdReplyType type() {
        return NbdReplyType.valueOf(typeCode);
    }
}
