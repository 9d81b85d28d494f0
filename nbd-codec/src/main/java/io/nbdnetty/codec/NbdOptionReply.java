package io.nbdnetty.codec;

/**
 * A server's reply to an option: magic, option, reply type, length, data. One record per reply type.
 */
public sealed interface NbdOptionReply extends NbdHandshakeMessage permits NbdAckReply, NbdServerReply,
        NbdInfoReply, NbdMetaContextReply, NbdErrorReply, NbdUnknownOptionReply {
    /**
     * Returns the option this replies to.
     *
     * @return the option
     */
    NbdOption option();

    /**
     * Returns the reply type.
     *
     * @return the type
     */
    NbdOptionReplyType type();
}
