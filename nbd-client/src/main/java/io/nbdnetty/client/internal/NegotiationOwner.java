package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdState;
import io.nbdnetty.codec.NbdClientHandshakeDecoder;
import io.netty.channel.ChannelHandlerContext;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** What the handshake ({@link NegotiationHandler}) asks of and tells the handle that owns it. */
public interface NegotiationOwner extends ConnectionOwner {
    /**
     * The handle's state now.
     *
     * @return the state
     */
    NbdState state();

    /**
     * The export name to ask for, as set now.
     *
     * @return the name
     */
    String exportName();

    /**
     * The metadata contexts to ask for, as set now.
     *
     * @return the names
     */
    List<String> metaContexts();

    /**
     * The host name dialled, for TLS's host name check.
     *
     * @return the name, or null if the handle did not dial a host
     */
    String dialledHost();

    /**
     * The port dialled.
     *
     * @return the port, or -1
     */
    int dialledPort();

    /** The handshake is ready for options (opt mode): the handle becomes NEGOTIATING. */
    void negotiating();

    /**
     * Opt mode cannot work with this server (the handshake goes on to the transmission phase by itself).
     *
     * @param why why
     */
    void optModeUnavailable(NbdException why);

    /**
     * The handshake is over: the handle creates its connection, which installs the transmission handlers in place
     * of the handshake's, and becomes READY.
     *
     * @param session what was negotiated
     * @param ctx the handshake handler's context
     * @param decoder the handshake decoder, replaced by the reply decoder
     * @return the connection
     */
    NbdConnection transmission(NbdSession session, ChannelHandlerContext ctx, NbdClientHandshakeDecoder decoder);

    /**
     * The handle's ready future.
     *
     * @return the future
     */
    CompletableFuture<NbdConnection> readyFuture();
}
