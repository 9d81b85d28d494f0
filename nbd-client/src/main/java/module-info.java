/**
 * An asynchronous NBD client on Netty. The API is {@code io.nbdnetty.client} (handles, connections, configuration,
 * errors, event loops), {@code io.nbdnetty.client.device} (connection pools, reconnecting devices),
 * {@code io.nbdnetty.client.stream} (Flow adapters), {@code io.nbdnetty.client.copy} (the copy engine) and
 * {@code io.nbdnetty.client.backup} (backups with dirty bitmaps); {@code io.nbdnetty.client.internal} (the
 * handshake and transmission handlers, reply assembly, flush policy, timers, transports) is not exported.
 *
 * <p>Netty's epoll transport is required (it is a dependency); its io_uring transport and netty-tcnative are
 * optional: an application on the module path that wants them adds their jars and resolves the modules itself
 * ({@code --add-modules io.netty.transport.classes.io_uring}), as it would add the jars on the class path.
 */
module io.nbdnetty.client {
    requires transitive io.nbdnetty.codec;
    requires transitive io.netty.buffer;
    requires transitive io.netty.common;
    requires transitive io.netty.handler;
    requires transitive io.netty.transport;
    requires io.netty.transport.classes.epoll;
    requires io.netty.transport.unix.common;
    requires static io.netty.transport.classes.io_uring;

    exports io.nbdnetty.client;
    exports io.nbdnetty.client.backup;
    exports io.nbdnetty.client.copy;
    exports io.nbdnetty.client.device;
    exports io.nbdnetty.client.stream;
}
