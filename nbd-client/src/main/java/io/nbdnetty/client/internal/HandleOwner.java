package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdClientConfig;
import io.netty.channel.Channel;

import java.util.concurrent.CompletableFuture;

/** The handle as its dialler sees it: the negotiation's owner, plus the handover of a connected channel. */
public interface HandleOwner extends NegotiationOwner {
    /**
     * The handle's configuration now.
     *
     * @return the configuration
     */
    NbdClientConfig config();

    /**
     * Finds the TLS context the connection will use, on the calling thread (not an event loop), once the
     * configuration is final; does nothing without TLS.
     */
    void prepareTls();

    /**
     * A dialled channel is connected: the handle installs the handshake on it.
     *
     * @param channel the channel
     */
    void adopt(Channel channel);

    /**
     * The handle's close future, which the dialler completes once the handle's own threads have ended.
     *
     * @return the future
     */
    CompletableFuture<Void> closeFuture();
}
