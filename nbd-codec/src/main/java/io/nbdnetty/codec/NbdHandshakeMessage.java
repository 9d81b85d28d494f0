package io.nbdnetty.codec;

/**
 * A message of the handshake phase, in either direction. None of them holds a reference-counted buffer.
 */
public sealed interface NbdHandshakeMessage permits NbdServerGreeting, NbdClientFlagsMessage, NbdOptionRequest,
        NbdOptionReply, NbdExportNameReply {
}
