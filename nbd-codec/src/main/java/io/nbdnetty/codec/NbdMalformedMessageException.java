package io.nbdnetty.codec;

/** A message had a valid header but its payload does not have the layout the spec gives its type. */
public final class NbdMalformedMessageException extends NbdDecoderException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message what was wrong
     * @param streamOffset where in the stream
     */
    public NbdMalformedMessageException(String message, long streamOffset) {
        super(message, streamOffset);
    }
}
