package io.nbdnetty.examples.cli;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdOptionException;
import io.nbdnetty.client.NbdUri;
import io.nbdnetty.codec.NbdOptionReplyType;
import io.netty.channel.EventLoopGroup;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * What the client commands share: URI parsing, waiting on futures, connecting ({@link TransportOption} makes their
 * event loop groups).
 */
public final class CliSupport {
    private CliSupport() {
    }

    /**
     * Whether a command-line word is an NBD URI (by its scheme), as nbdcopy decides between a URI and a file.
     *
     * @param s the word
     * @return true for {@code nbd:}, {@code nbds:}, {@code nbd+unix:} and the other NBD schemes
     */
    public static boolean looksLikeUri(String s) {
        String l = s.toLowerCase(java.util.Locale.ROOT);
        return l.startsWith("nbd:") || l.startsWith("nbds:") || l.startsWith("nbd+") || l.startsWith("nbds+");
    }

    /**
     * Parses an NBD URI; the message of the {@link IllegalArgumentException} is the one line the user sees.
     *
     * @param text the URI
     * @return the parsed URI
     */
    public static NbdUri parseUri(String text) {
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
    public static <T> T await(CompletableFuture<T> f) throws Exception {
        try {
            return f.get();
        } catch (ExecutionException | CompletionException e) {
            throw unwrap(e);
        }
    }

    /**
     * Waits for a connection to a URI. A server's refusal of an option (an export it does not have, TLS it does not
     * offer) is reported with the URI in front, as the other connect errors name their address already, and with how
     * to list the server's exports when the export is not there.
     *
     * @param uri the URI the connection is to
     * @param f the connection's future
     * @return the connection
     * @throws Exception the failure
     */
    public static NbdConnection awaitConnection(NbdUri uri, CompletableFuture<NbdConnection> f) throws Exception {
        try {
            return await(f);
        } catch (NbdOptionException e) {
            throw new NbdException(uri + ": " + e.getMessage()
                    + (NbdOptionReplyType.ERR_UNKNOWN.equals(e.replyType())
                    ? "; to list the server's exports, use nbd info --list" : ""), e);
        }
    }

    public static Exception unwrap(Throwable e) {
        Throwable t = e;
        while ((t instanceof ExecutionException || t instanceof CompletionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof Exception ex) {
            return ex;
        }
        return new RuntimeException(t.toString(), t);
    }

    public static void shutdown(EventLoopGroup group) {
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
    public static CompletableFuture<NbdConnection> connect(NbdUri uri, NbdClientConfig config, EventLoopGroup group) {
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
     * Creates a handle for a URI and starts its handshake ({@link NbdHandle#connect(NbdUri)}).
     *
     * @param uri the URI (its export and TLS settings are applied to the configuration)
     * @param config the configuration
     * @param group the event loop group ({@link TransportOption#newGroup})
     * @return the handle, handshake under way
     * @throws NbdException if the URI cannot be used
     */
    public static NbdHandle start(NbdUri uri, NbdClientConfig config, EventLoopGroup group) throws NbdException {
        NbdHandle h = NbdHandle.create(VerboseOption.on() ? config.mutate().debug(true).build() : config, group);
        h.connect(uri);
        return h;
    }
}
