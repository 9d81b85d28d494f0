package io.nbdnetty.testing.peers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/** Plain JDK Unix domain sockets, for tests that hand an already-connected socket to the client. */
public final class UnixSockets {
    private UnixSockets() {
    }

    /**
     * Connects to a Unix domain socket.
     *
     * @param socket the socket's path, e.g. {@link PeerServer#socketPath()}
     * @return a connected channel in blocking mode; the caller owns it and must close it (or hand it to something
     *     that will)
     * @throws UncheckedIOException if the connection fails
     */
    public static SocketChannel connect(Path socket) {
        SocketChannel channel = null;
        try {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
            return channel;
        } catch (IOException e) {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw new UncheckedIOException("cannot connect to " + socket, e);
        }
    }
}
