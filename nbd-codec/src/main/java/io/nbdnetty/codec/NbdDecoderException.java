package io.nbdnetty.codec;

import io.netty.handler.codec.DecoderException;

/**
 * Something a peer sent is not well-formed NBD. Subclasses say what kind of wrong; the message names the field, the
 * value and where in the stream it was ({@link #streamOffset()}: how many bytes the decoder had consumed before the
 * message that is wrong began). After throwing, a decoder discards everything else it receives.
 */
public class NbdDecoderException extends DecoderException {
    private static final long serialVersionUID = 1L;

    /** The stream offset, part of the serial form. */
    private final long streamOffset;

    /**
     * Creates an exception.
     *
     * @param message what was wrong
     * @param streamOffset the offset in the stream of the message that was wrong, or -1 if unknown
     */
    public NbdDecoderException(String message, long streamOffset) {
        super(streamOffset >= 0 ? message + " (at stream offset " + streamOffset + ")" : message);
        this.streamOffset = streamOffset;
    }

    /**
     * Returns the number of bytes the decoder had consumed before the offending message.
     *
     * @return the stream offset, or -1 if unknown
     */
    public long streamOffset() {
        return streamOffset;
    }
}
