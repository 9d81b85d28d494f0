package io.nbdnetty.client.internal;

/** The names of the handlers in a connection's pipeline, in one place. */
public final class PipelineNames {
    /** TLS ({@code SslHandler}), first in the pipeline once STARTTLS succeeded. */
    public static final String TLS = "nbd-tls";
    /** The handshake decoder (replaced by {@link #REPLY_DECODER}). */
    public static final String HANDSHAKE_DECODER = "nbd-handshake-decoder";
    /** The handshake encoder (replaced by {@link #REQUEST_ENCODER}). */
    public static final String HANDSHAKE_ENCODER = "nbd-handshake-encoder";
    /** The negotiation handler (replaced by {@link #TRANSMISSION}). */
    public static final String HANDSHAKE = "nbd-handshake";
    /** The reply decoder of the transmission phase. */
    public static final String REPLY_DECODER = "nbd-reply-decoder";
    /** The request encoder of the transmission phase (it only ever encodes NBD_CMD_DISC). */
    public static final String REQUEST_ENCODER = "nbd-request-encoder";
    /** The transmission handler. */
    public static final String TRANSMISSION = "nbd-transmission";

    private PipelineNames() {
    }
}
