/**
 * The NBD wire format on Netty: encoders and decoders for the handshake and the transmission phase, client and
 * server side, with no policy. One exported package, {@code io.nbdnetty.codec}.
 */
module io.nbdnetty.codec {
    requires transitive io.netty.buffer;
    requires transitive io.netty.codec;
    requires transitive io.netty.common;
    requires transitive io.netty.transport;

    exports io.nbdnetty.codec;
}
