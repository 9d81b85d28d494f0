package io.nbdnetty.client;

import io.nbdnetty.client.internal.Dialler;
import io.nbdnetty.client.internal.HandleCore;
import io.nbdnetty.client.internal.NegotiationHandler;
import io.nbdnetty.client.internal.VsockTransport;
import io.nbdnetty.codec.NbdOption;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.util.NetUtil;

import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * An NBD client handle: created once, connected once, then negotiated and used through its {@link NbdConnection}.
 * Every connect call returns at once and never blocks; the rest happens on the channel's event loop (and, to look up
 * a host name, on a short-lived thread of the handle's own). Two kinds:
 * <ul>
 * <li>{@link #connect(Channel)}, {@link #connect(SocketChannel)} and {@link #connect(int)} (a file descriptor) take
 * a socket that is already connected and only run the handshake on it, like libnbd's {@code
 * nbd_aio_connect_socket(3)};</li>
 * <li>{@link #connect(NbdUri)}, {@link #connectTcp(String, int)}, {@link #connectUnix(Path)} and {@link
 * #connectCommand(List)} dial first (a TCP host, each of its addresses in turn, or a Unix socket, within {@link
 * NbdClientConfig#connectTimeout()}), like libnbd's {@code nbd_aio_connect_uri(3)}; a dial that never connects fails
 * with {@link NbdConnectException}.</li>
 * </ul>
 *
 * <p>States ({@link #state()}): {@link NbdState#CREATED} until a connect call, {@link NbdState#CONNECTING} while the
 * handshake runs (or an option is in flight in opt mode), {@link NbdState#NEGOTIATING} in opt mode between options,
 * {@link NbdState#READY} (or {@link NbdState#PROCESSING} with commands in flight) in the transmission phase, {@link
 * NbdState#DEAD} after a fatal error, {@link NbdState#CLOSED} after {@link #close()} or a clean disconnect.
 *
 * <p>Thread-safe: every method may be called from any thread. Futures complete on the channel's event loop; do not
 * block in their callbacks.
 *
 * <p>Errors: calls return futures; a call made in a state that does not allow it returns a future failed with
 * {@link NbdStateException} and changes nothing. The handshake fails with {@link NbdOptionException} (an option
 * refused), {@link NbdProtocolException} (the server broke the protocol), {@link NbdConnectException} (the server
 * could not be reached: nothing was exchanged), {@link NbdConnectionClosedException} (the server closed the
 * connection), {@link NbdTimeoutException} ({@link
 * NbdClientConfig#handshakeTimeout()}) or {@link NbdException} (TLS and local failures); the handle is then {@link
 * NbdState#DEAD}, except for opt-mode refusals after which the protocol allows another option (the handle is {@link
 * NbdState#NEGOTIATING} again).
 *
 * <p id="opt-mode">Opt mode ({@link NbdClientConfig.Builder#optMode(boolean)}): each {@code opt*} call sends one
 * option and is allowed only in {@link NbdState#NEGOTIATING}. It fails with {@link NbdStateException} in any other
 * state (nothing is sent); with {@link NbdOptionException} if the server refuses (the handle stays negotiating); with
 * {@link NbdProtocolException}, {@link NbdConnectionClosedException} or {@link NbdTimeoutException} if the connection
 * fails (the handle is dead).
 *
 * <p>Event loops: a handle made with {@link #create(NbdClientConfig)} creates a private one-thread group when it needs
 * one (to register a channel that is not registered yet, or to dial) and shuts it down on {@link #close()}; like the
 * groups of {@link NbdEventLoops}, it polls briefly while replies are awaited ({@link
 * NbdEventLoops#DEFAULT_BUSY_POLL}). A handle made with {@link #create(NbdClientConfig, EventLoopGroup)} registers
 * channels on the given group and never shuts it down. Dialling a host name looks it up on a short-lived thread of
 * the handle's own ({@code nbd-netty-lookup}), as the lookup blocks. {@link #closeFuture()} completes only once the
 * threads the handle started have exited. The group's transport decides the channels it dials with: epoll, io_uring
 * or NIO ({@link NbdEventLoops.Transport}).
 */
public final class NbdHandle implements AutoCloseable {
    /** The most exports NBD_OPT_LIST may return (each reply is at most about 8 KiB): bounds a hostile server. */
    public static final int MAX_LISTED_EXPORTS = 10_000;
    /** The most metadata contexts one option may return (each at most about 4 KiB). */
    public static final int MAX_META_CONTEXTS = 1024;

    /** The state, the lifecycle and the one close and fail path. */
    private final HandleCore core;

    private NbdHandle(NbdClientConfig config, EventLoopGroup sharedGroup) {
        this.core = new HandleCore(this, Objects.requireNonNull(config, "config"), sharedGroup, NbdExtentList::of,
                (session, transmission) -> new NbdConnection(this, session, transmission));
    }

    /**
     * Creates a handle with the default configuration.
     *
     * @return a new handle in state {@link NbdState#CREATED}
     */
    public static NbdHandle create() {
        return new NbdHandle(NbdClientConfig.defaults(), null);
    }

    /**
     * Creates a handle.
     *
     * @param config how to negotiate
     * @return a new handle in state {@link NbdState#CREATED}
     */
    public static NbdHandle create(NbdClientConfig config) {
        return new NbdHandle(config, null);
    }

    /**
     * Creates a handle that registers channels on a group the caller owns (and shuts down).
     *
     * @param config how to negotiate
     * @param group the event loop group for channels that are not yet registered
     * @return a new handle in state {@link NbdState#CREATED}
     */
    public static NbdHandle create(NbdClientConfig config, EventLoopGroup group) {
        return new NbdHandle(config, Objects.requireNonNull(group, "group"));
    }

    /** {@return the configuration} */
    public NbdClientConfig config() {
        return core.config();
    }

    // ------------------------------------------------------------------------------------------------ connecting

    /**
     * Starts the handshake on a Netty channel that is already connected, registered or not (an unregistered one is
     * registered on the handle's event loop group). Returns at once. A channel already registered should have
     * {@code AUTO_READ} off until this call (otherwise bytes the server sent before may be lost); the handle turns it
     * on.
     *
     * <p>Allowed only in {@link NbdState#CREATED}; otherwise the future fails with {@link NbdStateException} and the
     * handle and the channel are left as they were.
     *
     * @param channel a connected stream channel; the handle owns it from now on and closes it
     * @return the future of {@link #readyFuture()}: the connection, once the transmission phase begins (in opt mode,
     *     after {@link #optGo()})
     */
    public CompletableFuture<NbdConnection> connect(Channel channel) {
        return core.connect(channel);
    }

    /**
     * Starts the handshake on a connected {@link SocketChannel} (TCP or Unix domain). The channel is adopted by
     * Netty's NIO transport: a handle created with a shared group needs an NIO group. Returns at once.
     *
     * @param socket a connected socket channel; the handle owns it from now on and closes it
     * @return the same as {@link #connect(Channel)}
     */
    public CompletableFuture<NbdConnection> connect(SocketChannel socket) {
        return core.connect(socket);
    }

    /**
     * Starts the handshake on a connected socket given as a file descriptor (TCP or Unix domain), through Netty's
     * epoll transport (Linux only). Returns at once. A handle created with a shared group needs an epoll group:
     * Netty's io_uring transport cannot adopt a descriptor, so on an io_uring group the future fails.
     *
     * @param fd the descriptor; the handle owns it from now on and closes it
     * @return the same as {@link #connect(Channel)}
     */
    public CompletableFuture<NbdConnection> connect(int fd) {
        return core.connect(fd);
    }

    /**
     * Convenience: dials the server an NBD URI names (TCP, Unix socket or vsock) and starts the handshake on the new
     * connection. The URI's export name and TLS settings ({@code nbds} requires TLS; {@code tls-certificates},
     * {@code tls-verify-peer}, {@code tls-hostname}) replace the handle's. Allowed only in {@link NbdState#CREATED}.
     *
     * <p>A TCP host is dialled as by {@link #connectTcp(String, int)}: each address of its name in turn.
     *
     * @param uri the URI, see {@link NbdUri#parse(String)}
     * @return the same as {@link #connect(Channel)}; fails with {@link NbdConnectException} if the server cannot be
     *     reached
     */
    public CompletableFuture<NbdConnection> connect(NbdUri uri) {
        Objects.requireNonNull(uri, "uri");
        if (!core.start()) {
            return core.notCreated();
        }
        core.configure(uri.configure(core.config()));
        if (uri.transport() == NbdUri.Transport.UNIX) {
            return core.dialler().dial(null, -1, uri.socket(), uri.toString());
        }
        if (uri.transport() == NbdUri.Transport.VSOCK) {
            return core.dialler().dialVsock(uri.vsockCid(), uri.port(), uri.toString());
        }
        return core.dialler().dial(uri.host(), uri.port(), null, uri.toString());
    }

    /**
     * Convenience: dials a TCP server and starts the handshake. Allowed only in {@link NbdState#CREATED}. Returns at
     * once: a host name is looked up on a thread of the handle's own (never on an event loop), then its addresses
     * are tried one after the other, in the order the lookup gives (the JDK's: see {@code
     * java.net.preferIPv6Addresses}), each within {@link NbdClientConfig#connectTimeout()}, until one connects, as
     * libnbd does. The handle is {@link NbdState#CONNECTING} meanwhile.
     *
     * @param host the host name or address
     * @param port the port (the NBD default is 10809)
     * @return the same as {@link #connect(Channel)}; if the name cannot be looked up or no address connects, fails
     *     with {@link NbdConnectException} naming the host, the port and each address with its failure
     *     (each also a suppressed exception), and the handle is {@link NbdState#DEAD}
     */
    public CompletableFuture<NbdConnection> connectTcp(String host, int port) {
        Objects.requireNonNull(host, "host");
        if (!core.start()) {
            return core.notCreated();
        }
        return core.dialler().dial(host, port, null, NetUtil.toSocketAddressString(host, port));
    }

    /**
     * Convenience: dials a Unix domain socket and starts the handshake. Allowed only in {@link NbdState#CREATED}.
     *
     * @param socket the socket's path
     * @return the same as {@link #connect(Channel)}
     */
    public CompletableFuture<NbdConnection> connectUnix(Path socket) {
        Objects.requireNonNull(socket, "socket");
        if (!core.start()) {
            return core.notCreated();
        }
        return core.dialler().dial(null, -1, socket, socket.toString());
    }

    /**
     * Convenience, like libnbd's {@code connect_vsock}: dials an NBD server over AF_VSOCK (from a virtual machine to
     * its host, CID 2, or from a host to a guest) and starts the handshake. Allowed only in {@link NbdState#CREATED}.
     * Returns at once.
     *
     * <p>vsock goes through Netty's epoll transport (Linux): a handle created with a shared group needs an epoll
     * group ({@link NbdEventLoops#newGroup}). Where vsock cannot work (no epoll, a kernel without AF_VSOCK, no
     * transport that reaches the CID) the future fails with {@link NbdConnectionClosedException} saying why in
     * words, and the handle is {@link NbdState#DEAD}.
     *
     * @param cid the context id, unsigned 32 bits (2 is the host; 1, VMADDR_CID_LOCAL, this machine through the
     *     {@code vsock_loopback} module)
     * @param port the port, unsigned 32 bits (NBD servers usually listen on 10809)
     * @return the same as {@link #connect(Channel)}
     */
    public CompletableFuture<NbdConnection> connectVsock(int cid, int port) {
        if (!core.start()) {
            return core.notCreated();
        }
        return core.dialler().dialVsock(cid, port, VsockTransport.describe(cid, port));
    }

    /**
     * Convenience, like libnbd's {@code connect_command}: runs a server as a subprocess whose standard input and
     * output are a connected socket (for example {@code nbdkit -s memory 1G} or {@code qemu-nbd ... -} style
     * servers), and starts the handshake on the other end. The subprocess is ended when the handle is closed or dies.
     *
     * <p>The JDK cannot pass a socket to a child, so the socket is made by {@code socat} (which must be on the
     * PATH): it listens on a private Unix socket, and when this handle connects it runs the command with the
     * connection on its standard input and output. Allowed only in {@link NbdState#CREATED}.
     *
     * @param argv the command and its arguments (no shell is involved in splitting them)
     * @return the same as {@link #connect(Channel)}
     */
    public CompletableFuture<NbdConnection> connectCommand(List<String> argv) {
        List<String> command = List.copyOf(argv);
        if (command.isEmpty()) {
            throw new IllegalArgumentException("argv must not be empty");
        }
        if (!core.start()) {
            return core.notCreated();
        }
        return core.dialler().command(command);
    }

    /** The channel, once a connect call has one (null before); for tests in this package. */
    Channel channel() {
        return core.channel();
    }

    /** Looks host names up for {@link #connectTcp} and {@link #connect(NbdUri)} (tests replace the JDK's). */
    interface HostResolver extends Dialler.HostResolver {
    }

    NbdHandle resolver(HostResolver resolver) {
        core.dialler().resolver(resolver);
        return this;
    }

    // ----------------------------------------------------------------------------------------------------- state

    /** {@return the current state} */
    public NbdState state() {
        NbdState s = core.state();
        NbdConnection c = core.connection();
        if (s == NbdState.READY && c != null && c.inFlight() > 0) {
            return NbdState.PROCESSING;
        }
        return s;
    }

    /** {@return whether the handle is newly created (libnbd's {@code aio_is_created})} */
    public boolean isCreated() {
        return core.state() == NbdState.CREATED;
    }

    /** {@return whether the handshake (or an option) is in progress (libnbd's {@code aio_is_connecting})} */
    public boolean isConnecting() {
        return core.state() == NbdState.CONNECTING;
    }

    /** {@return whether opt mode waits for the next option (libnbd's {@code aio_is_negotiating})} */
    public boolean isNegotiating() {
        return core.state() == NbdState.NEGOTIATING;
    }

    /**
     * {@return whether commands may be issued: the transmission phase, with or without commands in flight (libnbd's
     * {@code aio_is_ready})}
     */
    public boolean isReady() {
        return core.state() == NbdState.READY;
    }

    /** {@return whether commands are in flight (libnbd's {@code aio_is_processing})} */
    public boolean isProcessing() {
        return state() == NbdState.PROCESSING;
    }

    /** {@return whether a fatal error ended the connection (libnbd's {@code aio_is_dead})} */
    public boolean isDead() {
        return core.state() == NbdState.DEAD;
    }

    /** {@return whether the handle was shut down (libnbd's {@code aio_is_closed})} */
    public boolean isClosed() {
        return core.state() == NbdState.CLOSED;
    }

    /**
     * Completes when opt mode reaches {@link NbdState#NEGOTIATING} the first time; fails if the handshake fails
     * first, or if the handshake cannot stop there (an oldstyle server goes straight to ready, in which case this
     * completes at ready as libnbd does).
     *
     * @return the future, completed with this handle
     */
    public CompletableFuture<NbdHandle> negotiatingFuture() {
        return core.negotiatingFuture();
    }

    /**
     * Completes with the connection when the transmission phase begins; fails with the handshake's error. Cancelling
     * it before then (as the connect calls' futures, which are this one) abandons the handshake and closes the handle.
     *
     * @return the future
     */
    public CompletableFuture<NbdConnection> readyFuture() {
        return core.readyFuture();
    }

    /**
     * Completes when the handle is closed or dead, its channel is closed, and every thread the handle started has
     * exited: its private event loop (if it made one) and a host name lookup still running at the close.
     *
     * @return the future
     */
    public CompletableFuture<Void> closeFuture() {
        return core.closeFuture();
    }

    /** {@return the connection once ready, or null before the transmission phase} */
    public NbdConnection connection() {
        return core.connection();
    }

    /** {@return the export information learnt by {@link #optInfo()} or at go, or null if none yet} */
    public NbdExportInfo exportInfo() {
        NegotiationHandler h = core.handshake();
        return h == null ? null : h.exportInfo();
    }

    /**
     * {@return the handshake style: {@code oldstyle}, {@code newstyle} or {@code newstyle-fixed}, or null before the
     * greeting (libnbd's {@code get_protocol})}
     */
    public String protocol() {
        NegotiationHandler h = core.handshake();
        return h == null ? null : h.protocol();
    }

    /** {@return whether structured replies were agreed} */
    public boolean structuredRepliesNegotiated() {
        NegotiationHandler h = core.handshake();
        return h != null && h.structuredRepliesNegotiated();
    }

    /** {@return whether extended headers were agreed} */
    public boolean extendedHeadersNegotiated() {
        NegotiationHandler h = core.handshake();
        return h != null && h.extendedHeadersNegotiated();
    }

    /**
     * {@return the metadata contexts granted by the last NBD_OPT_SET_META_CONTEXT, in the order the server
     * sent them}
     */
    public List<NbdMetaContext> metaContextsNegotiated() {
        NegotiationHandler h = core.handshake();
        return h == null ? List.of() : h.grantedContexts();
    }

    /** {@return the export name used by go and info} */
    public String exportName() {
        return core.exportName();
    }

    /**
     * Changes the export name that {@link #optGo()} and {@link #optInfo()} ask for. Allowed in {@link
     * NbdState#CREATED} and {@link NbdState#NEGOTIATING}, as in libnbd.
     *
     * @param name the export name
     * @throws NbdStateException in any other state
     */
    public void setExportName(String name) throws NbdStateException {
        String checked = NbdClientConfig.builder().exportName(name).build().exportName();
        NbdState s = core.state();
        if (s != NbdState.CREATED && s != NbdState.NEGOTIATING) {
            throw new NbdStateException(s, "the handle must be newly created or negotiating");
        }
        core.exportName(checked);
    }

    /**
     * Replaces the metadata contexts that go and info negotiate. Allowed in {@link NbdState#CREATED} and {@link
     * NbdState#NEGOTIATING}.
     *
     * @param names the context names
     * @throws NbdStateException in any other state
     */
    public void setMetaContexts(List<String> names) throws NbdStateException {
        List<String> checked = NbdClientConfig.builder().metaContexts(names).build().metaContexts();
        NbdState s = core.state();
        if (s != NbdState.CREATED && s != NbdState.NEGOTIATING) {
            throw new NbdStateException(s, "the handle must be newly created or negotiating");
        }
        core.metaContexts(checked);
    }

    // -------------------------------------------------------------------------------------------------- opt mode

    /**
     * NBD_OPT_GO: ends negotiation with the current export name (and metadata contexts, see {@link
     * NbdClientConfig#requestMetaContext()}). Allowed in {@link NbdState#NEGOTIATING}. If the server refuses with
     * an error it allows another try after (such as an unknown export), the future fails with {@link
     * NbdOptionException} and the handle stays negotiating.
     *
     * <p>Errors: as for every <a href="#opt-mode">opt-mode call</a>.
     *
     * @return completes with the connection (the same as {@link #readyFuture()})
     */
    public CompletableFuture<NbdConnection> optGo() {
        return core.optCall(h -> h.go());
    }

    /**
     * NBD_OPT_INFO: asks about the current export without leaving negotiation. Allowed in {@link
     * NbdState#NEGOTIATING}.
     *
     * <p>Errors: as for every <a href="#opt-mode">opt-mode call</a>.
     *
     * @return completes with the information (also kept as {@link #exportInfo()})
     */
    public CompletableFuture<NbdExportInfo> optInfo() {
        return core.optCall(h -> h.info());
    }

    /**
     * NBD_OPT_LIST: lists the exports. Allowed in {@link NbdState#NEGOTIATING}.
     *
     * <p>Errors: as for every <a href="#opt-mode">opt-mode call</a>.
     *
     * @return completes with the exports, in the server's order
     */
    public CompletableFuture<List<NbdExportEntry>> optList() {
        return core.optCall(h -> h.list(MAX_LISTED_EXPORTS));
    }

    /**
     * NBD_OPT_ABORT: ends the session cleanly; the handle becomes {@link NbdState#CLOSED}. Allowed in {@link
     * NbdState#NEGOTIATING}.
     *
     * <p>Errors: as for every <a href="#opt-mode">opt-mode call</a>.
     *
     * @return completes when the server acknowledged (or closed the connection, which some servers do instead)
     */
    public CompletableFuture<Void> optAbort() {
        return core.optCall(h -> h.abort());
    }

    /**
     * NBD_OPT_STARTTLS, then the TLS handshake (with the configuration's certificates). Allowed in {@link
     * NbdState#NEGOTIATING}, once. Everything negotiated before it (structured replies, extended headers, contexts)
     * is forgotten, as the spec requires.
     *
     * <p>Errors: as for every <a href="#opt-mode">opt-mode call</a>, except that a refusal answers {@code false}.
     *
     * @return completes with true once TLS is up, false if the server refused; fails if the TLS handshake fails
     */
    public CompletableFuture<Boolean> optStartTls() {
        return core.optCall(h -> h.startTls(false));
    }

    /** {@return whether the connection is encrypted: true once TLS is up (libnbd's {@code get_tls_negotiated})} */
    public boolean tlsNegotiated() {
        NegotiationHandler h = core.handshake();
        return h != null && h.tlsNegotiated();
    }

    /**
     * NBD_OPT_STRUCTURED_REPLY. Allowed in {@link NbdState#NEGOTIATING}.
     *
     * <p>Errors: as for every <a href="#opt-mode">opt-mode call</a>, except that a refusal answers {@code false}.
     *
     * @return completes with true if the server agreed, false if it refused
     */
    public CompletableFuture<Boolean> optStructuredReply() {
        return core.optCall(h -> h.structuredReply());
    }

    /**
     * NBD_OPT_EXTENDED_HEADERS. Allowed in {@link NbdState#NEGOTIATING}.
     *
     * <p>Errors: as for every <a href="#opt-mode">opt-mode call</a>, except that a refusal answers {@code false}.
     *
     * @return completes with true if the server agreed, false if it refused
     */
    public CompletableFuture<Boolean> optExtendedHeaders() {
        return core.optCall(h -> h.extendedHeaders());
    }

    /**
     * NBD_OPT_LIST_META_CONTEXT for the current export with the given queries (none: all the server offers).
     * Allowed in {@link NbdState#NEGOTIATING}.
     *
     * <p>Errors: as for every <a href="#opt-mode">opt-mode call</a>.
     *
     * @param queries e.g. {@code base:} or {@code qemu:dirty-bitmap:}
     * @return completes with the contexts the server has (ids are meaningless for a list)
     */
    public CompletableFuture<List<NbdMetaContext>> optListMetaContexts(List<String> queries) {
        List<String> q = List.copyOf(queries);
        return core.optCall(h -> h.metaContexts(NbdOption.LIST_META_CONTEXT, q));
    }

    /**
     * NBD_OPT_SET_META_CONTEXT for the current export with the given names; the contexts granted are what block
     * status reports after go. Needs structured replies or extended headers first. Allowed in {@link
     * NbdState#NEGOTIATING}.
     *
     * <p>Errors: as for every <a href="#opt-mode">opt-mode call</a>.
     *
     * @param names the contexts wanted
     * @return completes with the contexts granted and their ids
     */
    public CompletableFuture<List<NbdMetaContext>> optSetMetaContexts(List<String> names) {
        List<String> q = List.copyOf(names);
        if (core.state() == NbdState.NEGOTIATING) {
            // As libnbd's opt_set_meta_context: these become the handle's contexts, which go and info request
            // again (see NbdClientConfig#requestMetaContext).
            core.metaContexts(NbdClientConfig.builder().metaContexts(q).build().metaContexts());
        }
        return core.optCall(h -> h.metaContexts(NbdOption.SET_META_CONTEXT, q));
    }

    static Throwable unwrap(Throwable e) {
        return NegotiationHandler.unwrap(e);
    }

    // ----------------------------------------------------------------------------------------------------- close

    /**
     * Closes the handle: the channel is closed, every pending future fails with {@link
     * NbdConnectionClosedException}, a private event loop group is shut down, and the state becomes {@link
     * NbdState#CLOSED}. Does not wait; for a clean NBD_CMD_DISC first use {@link NbdConnection#disconnect()}.
     *
     * @return {@link #closeFuture()}: completes when the channel is closed and the handle's own threads have exited
     */
    public CompletableFuture<Void> closeAsync() {
        return core.closeAsync();
    }

    /**
     * Closes the handle, like {@link #closeAsync()}, and waits (up to 10 seconds) for {@link #closeFuture()}, unless
     * called on the channel's event loop or on a thread of the handle's own, where waiting could never end.
     */
    @Override
    public void close() {
        core.close();
    }

    @Override
    public String toString() {
        Channel ch = core.channel();
        return "NbdHandle[" + state() + ", export=\"" + core.exportName() + "\"" + (ch != null ? ", " + ch : "") + "]";
    }
}
