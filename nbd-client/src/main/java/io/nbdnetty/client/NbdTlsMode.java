package io.nbdnetty.client;

/** Whether the handshake uses TLS (NBD_OPT_STARTTLS), like libnbd's {@code set_tls}. */
public enum NbdTlsMode {
    /** Never try TLS (the default, as in libnbd). */
    DISABLE,
    /**
     * Try TLS and fall back to plain text only where the server refuses NBD_OPT_STARTTLS. Open to a downgrade by
     * anyone on the path: use {@link #REQUIRE} where that matters.
     */
    ALLOW,
    /** Insist on TLS: a server that refuses it (or an attacker who answers for it) fails the handshake. */
    REQUIRE
}
