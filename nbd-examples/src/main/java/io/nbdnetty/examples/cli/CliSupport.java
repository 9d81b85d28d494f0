package io.nbdnetty.examples.cli;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdUri;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;

import io.nbdnetty.client.NbdConnectionClosedException;
import io.nbdnetty.client.NbdException;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** What the client commands share: URI parsing, waiting on futures, an event loop group, connecting. */
final class CliSupport {
    private CliSupport() {
    }

    /**
     * Whether a command-line word is an NBD URI (by its scheme), as nbdcopy decides between a URI and a file.
     *
     * @param s the word
     * @return true for {@code nbd:}, {@code nbds:}, {@code nbd+unix:} and the other NBD schemes
     */
    static boolean looksLikeUri(String s) {
        String l = s.toLowerCase(java.util.Locale.ROOT);
        return l.startsWith("nbd:") || l.startsWith("nbds:") || l.startsWith("nbd+") || l.startsWith("nbds+");
    }

    /**
     * Parses an NBD URI; the message of the {@link IllegalArgumentException} is the one line the user sees.
     *
     * @param text the URI
     * @return the parsed URI
     */
    static NbdUri parseUri(String text) {
        return NbdUri.parse(text);
    }

    /**
     * Waits for a future, unwrapping the cause of a failure.
     *
     * @param f the future
     * @param <T> its type
     * @return its value
     * @throws Exception its failure
     */
    static <T> T await(CompletableFuture<T> f) throws Exception {
        try {
            return f.get();
        } catch (ExecutionException | CompletionException e) {
            throw unwrap(e);
        }
    }

    static Exception unwrap(Throwable e) {
        Throwable t = e;
        while ((t instanceof ExecutionException || t instanceof CompletionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof Exception ex) {
            return ex;
        }
        return new RuntimeException(t.toString(), t);
    }

    /**
     * A group of daemon NIO event loop threads for the handles of one command.
     *
     * @param threads how many
     * @return the group; shut it down with {@link #shutdown(EventLoopGroup)}
     */
    static EventLoopGroup newGroup(int threads) {
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("nbd-cli", true),
                NioIoHandler.newFactory());
    }

    static void shutdown(EventLoopGroup group) {
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    /**
     * Opens one connection to the export a URI names (full handshake).
     *
     * @param uri the URI
     * @param config the configuration (the URI's export and TLS settings replace its own)
     * @param group the event loop group
     * @return completes with the connection
     */
    static CompletableFuture<NbdConnection> connect(NbdUri uri, NbdClientConfig config, EventLoopGroup group) {
        NbdHandle h;
        try {
            h = start(uri, config, group);
        } catch (NbdException e) {
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<NbdConnection> f = h.readyFuture();
        f.whenComplete((c, e) -> {
            if (e != null) {
                h.closeAsync();
            }
        });
        return f;
    }

    /**
     * Creates a handle for a URI and starts its handshake on a socket dialled here.
     *
     * <p>Why not {@link NbdHandle#connect(NbdUri)}: in nbd-client 0.1.0 its dialling path adds the handshake handlers
     * from a listener on the connect future, which can run after the event loop has already read the server's
     * greeting (and dropped it), so about one connection in a hundred waits for the handshake timeout. Adopting an
     * already-connected socket installs the handlers before the channel is registered, so nothing is lost.
     *
     * @param uri the URI (its export and TLS settings are applied to the configuration)
     * @param config the configuration
     * @param group an NIO event loop group
     * @return the handle, handshake under way
     * @throws NbdException if the server cannot be reached
     */
    static NbdHandle start(NbdUri uri, NbdClientConfig config, EventLoopGroup group) throws NbdException {
        if (uri.transport() == NbdUri.Transport.VSOCK) {
            throw new NbdException(uri.scheme() + " URIs are not supported: this client has no AF_VSOCK transport");
        }
        NbdClientConfig c = uri.configure(config);
        if (uri.transport() == NbdUri.Transport.TCP && c.tlsHostname() == null && uri.tls()) {
            c = c.mutate().tlsHostname(uri.host()).build();
        }
        SocketChannel socket;
        try {
            if (uri.transport() == NbdUri.Transport.UNIX) {
                socket = SocketChannel.open(StandardProtocolFamily.UNIX);
                try {
                    socket.connect(UnixDomainSocketAddress.of(uri.socket()));
                } catch (IOException e) {
                    socket.close();
                    throw e;
                }
            } else {
                socket = SocketChannel.open(new InetSocketAddress(uri.host(), uri.port()));
            }
        } catch (IOException e) {
            String why = e.getMessage() != null ? e.getMessage() : e.toString();
            if (e instanceof java.net.UnknownHostException) {
                why = "unknown host " + uri.host();
            }
            throw new NbdConnectionClosedException("cannot connect to " + uri + ": " + why, e);
        } catch (java.nio.channels.UnresolvedAddressException e) {
            throw new NbdConnectionClosedException("cannot connect to " + uri + ": unknown host " + uri.host(), e);
        }
        NbdHandle h = NbdHandle.create(c, group);
        h.connect(socket);
        return h;
    }
}
