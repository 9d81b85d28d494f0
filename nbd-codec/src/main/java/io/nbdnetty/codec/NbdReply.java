package io.nbdnetty.codec;

/**
 * A message from the server in the transmission phase: a {@link NbdSimpleReply} or one {@link NbdReplyChunk} of a
 * structured or extended reply.
 */
public sealed interface NbdReply permits NbdSimpleReply, NbdReplyChunk {
    /**
     * Returns the cookie of the request this answers.
     *
     * @return the cookie
     */
    long cookie();
}
