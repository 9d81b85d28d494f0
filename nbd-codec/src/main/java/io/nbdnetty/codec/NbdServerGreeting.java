package io.nbdnetty.codec;

/** The first message a server sends: either the newstyle or the oldstyle greeting. */
public sealed interface NbdServerGreeting extends NbdHandshakeMessage permits NbdNewstyleGreeting,
        NbdOldstyleGreeting {
}
