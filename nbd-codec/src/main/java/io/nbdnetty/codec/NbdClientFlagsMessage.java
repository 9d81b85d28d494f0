package io.nbdnetty.codec;

/**
 * The 32 bits of client flags a client sends after the newstyle greeting.
 *
 * @param clientFlags the {@link NbdClientFlags}
 */
public record NbdClientFlagsMessage(int clientFlags) implements NbdHandshakeMessage {
    @Override
    public String toString() {
        return "NbdClientFlagsMessage[" + NbdClientFlags.toString(clientFlags) + "]";
    }
}
