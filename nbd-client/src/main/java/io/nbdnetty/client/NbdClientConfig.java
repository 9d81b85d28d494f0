package io.nbdnetty.client;

import io.nbdnetty.client.internal.ConfigChecks;
import io.nbdnetty.codec.NbdClientHandshakeDecoder;
import io.nbdnetty.codec.NbdHandshakeFlags;
import io.nbdnetty.codec.NbdReplyDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslProvider;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How a handle negotiates and how much it trusts: immutable, built with {@link #builder()}, shareable between
 * handles. The defaults match libnbd's (structured replies, extended headers, block size requested, every strict
 * check on), plus limits libnbd does not have.
 */
public final class NbdClientConfig {
    /** Default handshake timeout: 30 seconds. */
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(30);
    /** Default time a dial may take for each address tried: 30 seconds. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(30);
    /** Default cap on requests in flight on one connection; more wait in a local queue. */
    public static final int DEFAULT_MAX_IN_FLIGHT_REQUESTS = 512;
    /** Default cap on bytes in flight (READ lengths plus WRITE payloads); more wait in a local queue. */
    public static final long DEFAULT_MAX_IN_FLIGHT_BYTES = 64L * 1024 * 1024;
    /** Default cap on block status extents in one reply, all contexts together: 2^21 (twice the spec's 2^20). */
    public static final int DEFAULT_MAX_BLOCK_STATUS_EXTENTS = 1 << 21;
    /** Default time without a byte from the server while requests are outstanding: 60 seconds. */
    public static final Duration DEFAULT_STALL_TIMEOUT = Duration.ofSeconds(60);

    private static final NbdClientConfig DEFAULT = builder().build();

    private final String exportName;
    private final boolean optMode;
    private final boolean requestStructuredReplies;
    private final boolean requestExtendedHeaders;
    private final boolean requestMetaContext;
    private final List<String> metaContexts;
    private final int handshakeFlags;
    private final boolean fullInfo;
    private final boolean requestBlockSize;
    private final int strictMode;
    private final Duration handshakeTimeout;
    private final Duration connectTimeout;
    private final int maxOptionReplyLength;
    private final int maxReplyPayloadLength;
    private final int maxInFlightRequests;
    private final long maxInFlightBytes;
    private final NbdTlsMode tls;
    private final SslContext sslContext;
    private final Path tlsCertificates;
    private final boolean tlsVerifyPeer;
    private final String tlsHostname;
    private final SslProvider tlsProvider;
    private final Duration requestTimeout;
    private final int maxBlockStatusExtents;
    private final Duration stallTimeout;
    private final NbdListener listener;
    private final boolean debug;

    private NbdClientConfig(Builder b) {
        this.exportName = b.exportName;
        this.optMode = b.optMode;
        this.requestStructuredReplies = b.requestStructuredReplies;
        this.requestExtendedHeaders = b.requestExtendedHeaders;
        this.requestMetaContext = b.requestMetaContext;
        this.metaContexts = List.copyOf(b.metaContexts);
        this.handshakeFlags = b.handshakeFlags;
        this.fullInfo = b.fullInfo;
        this.requestBlockSize = b.requestBlockSize;
        this.strictMode = b.strictMode;
        this.handshakeTimeout = b.handshakeTimeout;
        this.connectTimeout = b.connectTimeout;
        this.maxOptionReplyLength = b.maxOptionReplyLength;
        this.maxReplyPayloadLength = b.maxReplyPayloadLength;
        this.maxInFlightRequests = b.maxInFlightRequests;
        this.maxInFlightBytes = b.maxInFlightBytes;
        this.tls = b.tls;
        this.sslContext = b.sslContext;
        this.tlsCertificates = b.tlsCertificates;
        this.tlsVerifyPeer = b.tlsVerifyPeer;
        this.tlsHostname = b.tlsHostname;
        this.tlsProvider = b.tlsProvider;
        this.requestTimeout = b.requestTimeout;
        this.maxBlockStatusExtents = b.maxBlockStatusExtents;
        this.stallTimeout = b.stallTimeout;
        this.listener = b.listener;
        this.debug = b.debug;
    }

    /** {@return the configuration with every default} */
    public static NbdClientConfig defaults() {
        return DEFAULT;
    }

    /** {@return a new builder with the defaults} */
    public static Builder builder() {
        return new Builder();
    }

    /** {@return a new builder with this configuration's settings} */
    public Builder mutate() {
        return new Builder(this);
    }

    /** {@return the export to ask for (default {@code ""}, the server's default export)} */
    public String exportName() {
        return exportName;
    }

    /** {@return whether the handle stops at negotiating for manual option negotiation (default false)} */
    public boolean optMode() {
        return optMode;
    }

    /** {@return whether to ask for structured replies (default true)} */
    public boolean requestStructuredReplies() {
        return requestStructuredReplies;
    }

    /** {@return whether to ask for extended headers (default true)} */
    public boolean requestExtendedHeaders() {
        return requestExtendedHeaders;
    }

    /**
     * {@return whether the full handshake (and opt mode's go/info) sends NBD_OPT_SET_META_CONTEXT for {@link
     * #metaContexts()} (default true)}
     */
    public boolean requestMetaContext() {
        return requestMetaContext;
    }

    /** {@return the metadata contexts to negotiate (default none), e.g. {@code base:allocation}} */
    public List<String> metaContexts() {
        return metaContexts;
    }

    /**
     * {@return the handshake flags the client is willing to use (default {@link NbdHandshakeFlags#ALL}); the client
     * flags sent are these and the server's in common}
     */
    public int handshakeFlags() {
        return handshakeFlags;
    }

    /** {@return whether to ask the server for the canonical name and description (default false)} */
    public boolean fullInfo() {
        return fullInfo;
    }

    /** {@return whether to ask for block size constraints (default true)} */
    public boolean requestBlockSize() {
        return requestBlockSize;
    }

    /** {@return the client-side checks on requests (default {@link NbdStrict#ALL})} */
    public int strictMode() {
        return strictMode;
    }

    /**
     * {@return how long the handshake may take before the handle goes dead with {@link NbdTimeoutException} ({@link
     * Duration#ZERO}: no limit), counted from the moment the handle has the connected channel} In opt mode it covers
     * reaching {@link NbdState#NEGOTIATING}, and then each option the caller sends (including {@link
     * NbdHandle#optGo()}) gets the same time for its replies.
     */
    public Duration handshakeTimeout() {
        return handshakeTimeout;
    }

    /**
     * {@return how long dialling one address may take ({@link Duration#ZERO}: no limit but the operating system's),
     * when the handle dials ({@link NbdHandle#connectTcp}, {@link NbdHandle#connectUnix}, {@link
     * NbdHandle#connect(NbdUri)})} A host name's addresses are tried in turn, each with this limit.
     */
    public Duration connectTimeout() {
        return connectTimeout;
    }

    /** {@return the largest option reply accepted, in bytes} */
    public int maxOptionReplyLength() {
        return maxOptionReplyLength;
    }

    /** {@return the largest reply payload (chunk or simple reply data) accepted, in bytes} */
    public int maxReplyPayloadLength() {
        return maxReplyPayloadLength;
    }

    /** {@return the cap on requests in flight; further requests wait in a local queue until replies free room} */
    public int maxInFlightRequests() {
        return maxInFlightRequests;
    }

    /**
     * {@return the cap on bytes in flight (READ lengths plus WRITE payloads); a single larger request is still sent
     * alone}
     */
    public long maxInFlightBytes() {
        return maxInFlightBytes;
    }

    /** {@return whether to use TLS (default {@link NbdTlsMode#DISABLE}, as libnbd)} */
    public NbdTlsMode tls() {
        return tls;
    }

    /** {@return the caller's own TLS context, or null to build one from {@link #tlsCertificates()}} */
    public SslContext sslContext() {
        return sslContext;
    }

    /**
     * {@return a directory in nbdkit/libnbd's layout: {@code ca-cert.pem} (the CA to trust), and optionally {@code
     * client-cert.pem} with {@code client-key.pem} (PKCS#8) for a client certificate; null to trust the JDK's CAs}
     */
    public Path tlsCertificates() {
        return tlsCertificates;
    }

    /**
     * {@return whether to verify the server's certificate (default true): its chain, and its name where a host is known
     * ({@link #tlsHostname()}, or the host the convenience connect calls dialled)}
     */
    public boolean tlsVerifyPeer() {
        return tlsVerifyPeer;
    }

    /**
     * {@return the host name to verify the server's certificate against, or null for the dialled host (none for a Unix
     * socket or an adopted socket: then only the chain is verified)}
     */
    public String tlsHostname() {
        return tlsHostname;
    }

    /**
     * {@return the TLS engine for contexts built from {@link #tlsCertificates()}: the one set with {@link
     * Builder#tlsProvider(SslProvider)}, or by default {@link SslProvider#OPENSSL} (BoringSSL through netty-tcnative,
     * faster) when netty-tcnative loads on this machine (the application adds {@code
     * io.netty:netty-tcnative-boringssl-static} with its platform's classifier to its class path), else {@link
     * SslProvider#JDK}, as Netty's {@code SslContext.defaultClientProvider()} decides} Without a provider set, the
     * first call tries to load netty-tcnative's native library; connections without TLS never call it.
     */
    public SslProvider tlsProvider() {
        return tlsProvider != null ? tlsProvider : SslContext.defaultClientProvider();
    }

    /**
     * {@return how long a request may wait for its reply before its future fails with {@link NbdTimeoutException}
     * ({@link Duration#ZERO}, the default: no limit)} NBD cannot cancel a request, so the connection stays usable: the
     * request stays counted in flight until the late reply arrives, and that reply is read, checked and dropped. A
     * request fails no sooner than this after it was sent, and at most about 1/32 of it later: one timer per connection
     * sweeps the requests in flight, rather than a timer per request.
     */
    public Duration requestTimeout() {
        return requestTimeout;
    }

    /**
     * {@return the most block status extents one reply may hold, all its contexts together (default {@link
     * #DEFAULT_MAX_BLOCK_STATUS_EXTENTS})} A chunk header announcing more is a protocol error before its payload is
     * buffered, and so is a reply whose chunks add up to more; so one reply makes the client hold at most this many
     * extents, 16 bytes each (docs/LIMITS.md).
     */
    public int maxBlockStatusExtents() {
        return maxBlockStatusExtents;
    }

    /**
     * {@return how long the server may send nothing at all while requests are outstanding (default {@link
     * #DEFAULT_STALL_TIMEOUT}; {@link Duration#ZERO}: no limit)} Any byte received counts as progress, so a slow link
     * or a long reply arriving slowly does not trip it, but a server that stops in the middle of a reply, or never
     * answers, does: the connection then fails with {@link NbdTimeoutException} ("no reply from the server for 60 s"),
     * every request on it fails, and the handle goes {@link NbdState#DEAD}. Unlike {@link #requestTimeout()}, the clock
     * starts again with every byte, and only runs while a request waits. It is checked every eighth of the timeout, so
     * the connection fails after between 1 and 1.25 times it of silence.
     */
    public Duration stallTimeout() {
        return stallTimeout;
    }

    /** {@return the observer of requests, or null} */
    public NbdListener listener() {
        return listener;
    }

    /**
     * {@return whether every option and command is logged at DEBUG through Netty's logging facade (SLF4J when present),
     * logger {@code io.nbdnetty.client}, like libnbd's debug mode (default false)}
     */
    public boolean debug() {
        return debug;
    }

    @Override
    public String toString() {
        return "NbdClientConfig[exportName=\"" + exportName + "\", optMode=" + optMode + ", structuredReplies="
                + requestStructuredReplies + ", extendedHeaders=" + requestExtendedHeaders + ", metaContexts="
                + metaContexts + ", handshakeFlags=" + NbdHandshakeFlags.toString(handshakeFlags) + ", fullInfo="
                + fullInfo + ", strict=0x" + Integer.toHexString(strictMode) + ", tls=" + tls + "]";
    }

    /**
     * Builds an {@link NbdClientConfig}. Each setter sets the setting of the same name (its meaning and default are
     * on the {@link NbdClientConfig} accessor of that name), checks its argument and names the setting in the error,
     * and returns this builder. Not thread-safe.
     */
    public static final class Builder {
        private String exportName = "";
        private boolean optMode;
        private boolean requestStructuredReplies = true;
        private boolean requestExtendedHeaders = true;
        private boolean requestMetaContext = true;
        private List<String> metaContexts = new ArrayList<>();
        private int handshakeFlags = NbdHandshakeFlags.ALL;
        private boolean fullInfo;
        private boolean requestBlockSize = true;
        private int strictMode = NbdStrict.ALL;
        private Duration handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private int maxOptionReplyLength = NbdClientHandshakeDecoder.DEFAULT_MAX_OPTION_REPLY_LENGTH;
        private int maxReplyPayloadLength = NbdReplyDecoder.DEFAULT_MAX_PAYLOAD_LENGTH;
        private int maxInFlightRequests = DEFAULT_MAX_IN_FLIGHT_REQUESTS;
        private long maxInFlightBytes = DEFAULT_MAX_IN_FLIGHT_BYTES;
        private NbdTlsMode tls = NbdTlsMode.DISABLE;
        private SslContext sslContext;
        private Path tlsCertificates;
        private boolean tlsVerifyPeer = true;
        private String tlsHostname;
        /** Null: BoringSSL where netty-tcnative loads, else the JDK's (decided when TLS is first set up). */
        private SslProvider tlsProvider;
        private Duration requestTimeout = Duration.ZERO;
        private int maxBlockStatusExtents = DEFAULT_MAX_BLOCK_STATUS_EXTENTS;
        private Duration stallTimeout = DEFAULT_STALL_TIMEOUT;
        private NbdListener listener;
        private boolean debug;

        private Builder() {
        }

        private Builder(NbdClientConfig c) {
            exportName = c.exportName;
            optMode = c.optMode;
            requestStructuredReplies = c.requestStructuredReplies;
            requestExtendedHeaders = c.requestExtendedHeaders;
            requestMetaContext = c.requestMetaContext;
            metaContexts = new ArrayList<>(c.metaContexts);
            handshakeFlags = c.handshakeFlags;
            fullInfo = c.fullInfo;
            requestBlockSize = c.requestBlockSize;
            strictMode = c.strictMode;
            handshakeTimeout = c.handshakeTimeout;
            connectTimeout = c.connectTimeout;
            maxOptionReplyLength = c.maxOptionReplyLength;
            maxReplyPayloadLength = c.maxReplyPayloadLength;
            maxInFlightRequests = c.maxInFlightRequests;
            maxInFlightBytes = c.maxInFlightBytes;
            tls = c.tls;
            sslContext = c.sslContext;
            tlsCertificates = c.tlsCertificates;
            tlsVerifyPeer = c.tlsVerifyPeer;
            tlsHostname = c.tlsHostname;
            tlsProvider = c.tlsProvider;
            requestTimeout = c.requestTimeout;
            maxBlockStatusExtents = c.maxBlockStatusExtents;
            stallTimeout = c.stallTimeout;
            listener = c.listener;
            debug = c.debug;
        }

        /** Sets the export name: at most 4096 bytes of UTF-8. */
        public Builder exportName(String exportName) {
            this.exportName = ConfigChecks.name(exportName, "exportName");
            return this;
        }

        /** Sets opt mode: true to stop at negotiating. */
        public Builder optMode(boolean optMode) {
            this.optMode = optMode;
            return this;
        }

        /** Sets whether to ask for structured replies: true to ask. */
        public Builder requestStructuredReplies(boolean request) {
            this.requestStructuredReplies = request;
            return this;
        }

        /** Sets whether to ask for extended headers: true to ask. */
        public Builder requestExtendedHeaders(boolean request) {
            this.requestExtendedHeaders = request;
            return this;
        }

        /** Sets whether go/info negotiate the configured metadata contexts: true to negotiate. */
        public Builder requestMetaContext(boolean request) {
            this.requestMetaContext = request;
            return this;
        }

        /** Adds a metadata context to negotiate: e.g. {@code base:allocation} or {@code qemu:dirty-bitmap:b0}. */
        public Builder addMetaContext(String name) {
            String checked = ConfigChecks.name(name, "metaContext");
            if (checked.isEmpty()) {
                throw new IllegalArgumentException("metaContext must not be empty");
            }
            if (!metaContexts.contains(checked)) {
                metaContexts.add(checked);
            }
            return this;
        }

        /** Replaces the metadata contexts to negotiate: the context names. */
        public Builder metaContexts(List<String> names) {
            metaContexts = new ArrayList<>();
            names.forEach(this::addMetaContext);
            return this;
        }

        /** Sets the handshake flags the client will use: a subset of {@link NbdHandshakeFlags#ALL}. */
        public Builder handshakeFlags(int flags) {
            this.handshakeFlags = ConfigChecks.flags(flags, NbdHandshakeFlags.ALL, "handshakeFlags");
            return this;
        }

        /** Sets whether to ask for the canonical name and description: true to ask. */
        public Builder fullInfo(boolean fullInfo) {
            this.fullInfo = fullInfo;
            return this;
        }

        /** Sets whether to ask for block size constraints: true to ask. */
        public Builder requestBlockSize(boolean request) {
            this.requestBlockSize = request;
            return this;
        }

        /**
         * Sets the strict-mode checks: a subset of {@link NbdStrict#ALL}, with or without {@link NbdStrict#EXTENTS}.
         */
        public Builder strictMode(int flags) {
            this.strictMode = ConfigChecks.flags(flags, NbdStrict.ALL | NbdStrict.EXTENTS, "strictMode");
            return this;
        }

        /** Sets the handshake timeout: positive, or {@link Duration#ZERO} for none. */
        public Builder handshakeTimeout(Duration timeout) {
            this.handshakeTimeout = ConfigChecks.timeout(timeout, "handshakeTimeout");
            return this;
        }

        /**
         * Sets the time dialling one address may take: positive, or {@link Duration#ZERO} for no limit of the client's
         * own.
         */
        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = ConfigChecks.timeout(timeout, "connectTimeout");
            return this;
        }

        /** Sets the largest option reply accepted: at least 1024. */
        public Builder maxOptionReplyLength(int bytes) {
            this.maxOptionReplyLength = (int) ConfigChecks.atLeast(bytes, 1024, "maxOptionReplyLength");
            return this;
        }

        /** Sets the largest reply payload accepted: at least 4096. */
        public Builder maxReplyPayloadLength(int bytes) {
            this.maxReplyPayloadLength = (int) ConfigChecks.atLeast(bytes, 4096, "maxReplyPayloadLength");
            return this;
        }

        /** Sets the cap on requests in flight: at least 1. */
        public Builder maxInFlightRequests(int requests) {
            this.maxInFlightRequests = (int) ConfigChecks.atLeast(requests, 1, "maxInFlightRequests");
            return this;
        }

        /** Sets the cap on bytes in flight: at least 1. */
        public Builder maxInFlightBytes(long bytes) {
            this.maxInFlightBytes = ConfigChecks.atLeast(bytes, 1, "maxInFlightBytes");
            return this;
        }

        /** Sets the TLS mode: disable, allow or require. */
        public Builder tls(NbdTlsMode mode) {
            this.tls = Objects.requireNonNull(mode, "tls");
            return this;
        }

        /**
         * Uses the caller's TLS context (a client context) instead of one built from the certificate directory: the
         * context, or null.
         */
        public Builder sslContext(SslContext context) {
            if (context != null && !context.isClient()) {
                throw new IllegalArgumentException("sslContext must be a client context");
            }
            this.sslContext = context;
            return this;
        }

        /**
         * Sets the certificate directory ({@code ca-cert.pem}, {@code client-cert.pem}, {@code client-key.pem}): the
         * directory, or null.
         */
        public Builder tlsCertificates(Path dir) {
            this.tlsCertificates = dir;
            return this;
        }

        /** Sets whether the server's certificate is verified: true to verify (the default). */
        public Builder tlsVerifyPeer(boolean verify) {
            this.tlsVerifyPeer = verify;
            return this;
        }

        /** Sets the host name to verify the server's certificate against: the name, or null. */
        public Builder tlsHostname(String hostname) {
            this.tlsHostname = hostname;
            return this;
        }

        /**
         * Sets the TLS engine used for contexts this library builds: {@link SslProvider#JDK} or {@link
         * SslProvider#OPENSSL} (needs netty-tcnative; without it, connecting with TLS fails with an {@link
         * NbdException} that names the missing library). Not set, the engine is BoringSSL where netty-tcnative
         * loads, else the JDK's (see {@link NbdClientConfig#tlsProvider()}).
         */
        public Builder tlsProvider(SslProvider provider) {
            this.tlsProvider = Objects.requireNonNull(provider, "tlsProvider");
            return this;
        }

        /** Sets the per-request timeout: positive, or {@link Duration#ZERO} for none. */
        public Builder requestTimeout(Duration timeout) {
            this.requestTimeout = ConfigChecks.timeout(timeout, "requestTimeout");
            return this;
        }

        /**
         * Sets the cap on block status extents in one reply ({@link NbdClientConfig#maxBlockStatusExtents()}): at least
         * 1.
         */
        public Builder maxBlockStatusExtents(int extents) {
            this.maxBlockStatusExtents = (int) ConfigChecks.atLeast(extents, 1, "maxBlockStatusExtents");
            return this;
        }

        /**
         * Sets how long the server may send nothing while requests are outstanding ({@link
         * NbdClientConfig#stallTimeout()}): positive, or {@link Duration#ZERO} for none.
         */
        public Builder stallTimeout(Duration timeout) {
            this.stallTimeout = ConfigChecks.timeout(timeout, "stallTimeout");
            return this;
        }

        /** Sets the request observer: the listener, or null. */
        public Builder listener(NbdListener listener) {
            this.listener = listener;
            return this;
        }

        /** Sets debug logging: true to log every option and command at DEBUG. */
        public Builder debug(boolean debug) {
            this.debug = debug;
            return this;
        }

        /**
         * Builds the configuration.
         *
         * @return the configuration
         */
        public NbdClientConfig build() {
            return new NbdClientConfig(this);
        }
    }
}
