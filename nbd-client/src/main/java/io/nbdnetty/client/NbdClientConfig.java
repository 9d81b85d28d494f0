package io.nbdnetty.client;

import io.nbdnetty.codec.NbdClientHandshakeDecoder;
import io.nbdnetty.codec.NbdConstants;
import io.nbdnetty.codec.NbdHandshakeFlags;
import io.nbdnetty.codec.NbdReplyDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslProvider;

import java.nio.charset.StandardCharsets;
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

    /**
     * Returns the configuration with every default.
     *
     * @return the default configuration
     */
    public static NbdClientConfig defaults() {
        return DEFAULT;
    }

    /**
     * Starts a builder with the defaults.
     *
     * @return a builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts a builder with this configuration's settings.
     *
     * @return a builder
     */
    public Builder mutate() {
        return new Builder(this);
    }

    /**
     * The export to ask for (default {@code ""}, the server's default export).
     *
     * @return the export name
     */
    public String exportName() {
        return exportName;
    }

    /**
     * Whether the handle stops at negotiating for manual option negotiation (default false).
     *
     * @return opt mode
     */
    public boolean optMode() {
        return optMode;
    }

    /**
     * Whether to ask for structured replies (default true).
     *
     * @return the setting
     */
    public boolean requestStructuredReplies() {
        return requestStructuredReplies;
    }

    /**
     * Whether to ask for extended headers (default true).
     *
     * @return the setting
     */
    public boolean requestExtendedHeaders() {
        return requestExtendedHeaders;
    }

    /**
     * Whether the full handshake (and opt mode's go/info) sends NBD_OPT_SET_META_CONTEXT for {@link #metaContexts()}
     * (default true).
     *
     * @return the setting
     */
    public boolean requestMetaContext() {
        return requestMetaContext;
    }

    /**
     * The metadata contexts to negotiate (default none), e.g. {@code base:allocation}.
     *
     * @return the context names
     */
    public List<String> metaContexts() {
        return metaContexts;
    }

    /**
     * The handshake flags the client is willing to use (default {@link NbdHandshakeFlags#ALL}); the client flags sent
     * are these and the server's in common.
     *
     * @return the {@link NbdHandshakeFlags}
     */
    public int handshakeFlags() {
        return handshakeFlags;
    }

    /**
     * Whether to ask the server for the canonical name and description (default false).
     *
     * @return the setting
     */
    public boolean fullInfo() {
        return fullInfo;
    }

    /**
     * Whether to ask for block size constraints (default true).
     *
     * @return the setting
     */
    public boolean requestBlockSize() {
        return requestBlockSize;
    }

    /**
     * The client-side checks on requests (default {@link NbdStrict#ALL}).
     *
     * @return the {@link NbdStrict} bitmask
     */
    public int strictMode() {
        return strictMode;
    }

    /**
     * How long the handshake may take before the handle goes dead with {@link NbdTimeoutException} ({@link
     * Duration#ZERO}: no limit), counted from the moment the handle has the connected channel. In opt mode it covers
     * reaching {@link NbdState#NEGOTIATING}, and then each option the caller sends (including {@link
     * NbdHandle#optGo()}) gets the same time for its replies.
     *
     * @return the timeout
     */
    public Duration handshakeTimeout() {
        return handshakeTimeout;
    }

    /**
     * How long dialling one address may take ({@link Duration#ZERO}: no limit but the operating system's), when the
     * handle dials ({@link NbdHandle#connectTcp}, {@link NbdHandle#connectUnix}, {@link NbdHandle#connect(NbdUri)}).
     * A host name's addresses are tried in turn, each with this limit.
     *
     * @return the timeout
     */
    public Duration connectTimeout() {
        return connectTimeout;
    }

    /**
     * The largest option reply accepted, in bytes.
     *
     * @return the limit
     */
    public int maxOptionReplyLength() {
        return maxOptionReplyLength;
    }

    /**
     * The largest reply payload (chunk or simple reply data) accepted, in bytes.
     *
     * @return the limit
     */
    public int maxReplyPayloadLength() {
        return maxReplyPayloadLength;
    }

    /**
     * The cap on requests in flight; further requests wait in a local queue until replies free room.
     *
     * @return the cap
     */
    public int maxInFlightRequests() {
        return maxInFlightRequests;
    }

    /**
     * The cap on bytes in flight (READ lengths plus WRITE payloads); a single larger request is still sent alone.
     *
     * @return the cap
     */
    public long maxInFlightBytes() {
        return maxInFlightBytes;
    }

    /**
     * Whether to use TLS (default {@link NbdTlsMode#DISABLE}, as libnbd).
     *
     * @return the TLS mode
     */
    public NbdTlsMode tls() {
        return tls;
    }

    /**
     * The caller's own TLS context, or null to build one from {@link #tlsCertificates()}.
     *
     * @return the context
     */
    public SslContext sslContext() {
        return sslContext;
    }

    /**
     * A directory in nbdkit/libnbd's layout: {@code ca-cert.pem} (the CA to trust), and optionally {@code
     * client-cert.pem} with {@code client-key.pem} (PKCS#8) for a client certificate; null to trust the JDK's CAs.
     *
     * @return the directory, or null
     */
    public Path tlsCertificates() {
        return tlsCertificates;
    }

    /**
     * Whether to verify the server's certificate (default true): its chain, and its name where a host is known
     * ({@link #tlsHostname()}, or the host the convenience connect calls dialled).
     *
     * @return the setting
     */
    public boolean tlsVerifyPeer() {
        return tlsVerifyPeer;
    }

    /**
     * The host name to verify the server's certificate against, or null for the dialled host (none for a Unix
     * socket or an adopted socket: then only the chain is verified).
     *
     * @return the host name
     */
    public String tlsHostname() {
        return tlsHostname;
    }

    /**
     * The TLS engine for contexts built from {@link #tlsCertificates()}: {@link SslProvider#JDK} (the default) or
     * {@link SslProvider#OPENSSL} (BoringSSL through netty-tcnative, faster; the application adds {@code
     * io.netty:netty-tcnative-boringssl-static} to its class path).
     *
     * @return the provider
     */
    public SslProvider tlsProvider() {
        return tlsProvider;
    }

    /**
     * How long a request may wait for its reply before its future fails with {@link NbdTimeoutException}
     * ({@link Duration#ZERO}, the default: no limit). NBD cannot cancel a request, so the connection stays usable: the
     * request stays counted in flight until the late reply arrives, and that reply is read, checked and dropped. A
     * request fails no sooner than this after it was sent, and at most about 1/32 of it later: one timer per
     * connection sweeps the requests in flight, rather than a timer per request.
     *
     * @return the timeout
     */
    public Duration requestTimeout() {
        return requestTimeout;
    }

    /**
     * The most block status extents one reply may hold, all its contexts together (default {@link
     * #DEFAULT_MAX_BLOCK_STATUS_EXTENTS}). A chunk header announcing more is a protocol error before its payload is
     * buffered, and so is a reply whose chunks add up to more; so one reply makes the client hold at most this many
     * extents, 16 bytes each (docs/LIMITS.md).
     *
     * @return the limit
     */
    public int maxBlockStatusExtents() {
        return maxBlockStatusExtents;
    }

    /**
     * How long the server may send nothing at all while requests are outstanding (default {@link
     * #DEFAULT_STALL_TIMEOUT}; {@link Duration#ZERO}: no limit). Any byte received counts as progress, so a slow
     * link or a long reply arriving slowly does not trip it, but a server that stops in the middle of a reply, or
     * never answers, does: the connection then fails with {@link NbdTimeoutException} ("no reply from the server
     * for 60 s"), every request on it fails, and the handle goes {@link NbdState#DEAD}. Unlike {@link
     * #requestTimeout()}, the clock starts again with every byte, and only runs while a request waits. It is checked
     * every eighth of the timeout, so the connection fails after between 1 and 1.25 times it of silence.
     *
     * @return the timeout
     */
    public Duration stallTimeout() {
        return stallTimeout;
    }

    /**
     * The observer of requests, or null.
     *
     * @return the listener
     */
    public NbdListener listener() {
        return listener;
    }

    /**
     * Whether every option and command is logged at DEBUG through Netty's logging facade (SLF4J when present),
     * logger {@code io.nbdnetty.client}, like libnbd's debug mode (default false).
     *
     * @return the setting
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

    /** Builds an {@link NbdClientConfig}; each setter checks its argument and names it in the error. */
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
        private SslProvider tlsProvider = SslProvider.JDK;
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

        /**
         * Sets the export name.
         *
         * @param exportName at most 4096 bytes of UTF-8
         * @return this builder
         */
        public Builder exportName(String exportName) {
            this.exportName = checkName(exportName, "exportName");
            return this;
        }

        /**
         * Sets opt mode.
         *
         * @param optMode true to stop at negotiating
         * @return this builder
         */
        public Builder optMode(boolean optMode) {
            this.optMode = optMode;
            return this;
        }

        /**
         * Sets whether to ask for structured replies.
         *
         * @param request true to ask
         * @return this builder
         */
        public Builder requestStructuredReplies(boolean request) {
            this.requestStructuredReplies = request;
            return this;
        }

        /**
         * Sets whether to ask for extended headers.
         *
         * @param request true to ask
         * @return this builder
         */
        public Builder requestExtendedHeaders(boolean request) {
            this.requestExtendedHeaders = request;
            return this;
        }

        /**
         * Sets whether go/info negotiate the configured metadata contexts.
         *
         * @param request true to negotiate
         * @return this builder
         */
        public Builder requestMetaContext(boolean request) {
            this.requestMetaContext = request;
            return this;
        }

        /**
         * Adds a metadata context to negotiate.
         *
         * @param name e.g. {@code base:allocation} or {@code qemu:dirty-bitmap:b0}
         * @return this builder
         */
        public Builder addMetaContext(String name) {
            String checked = checkName(name, "metaContext");
            if (checked.isEmpty()) {
                throw new IllegalArgumentException("metaContext must not be empty");
            }
            if (!metaContexts.contains(checked)) {
                metaContexts.add(checked);
            }
            return this;
        }

        /**
         * Replaces the metadata contexts to negotiate.
         *
         * @param names the context names
         * @return this builder
         */
        public Builder metaContexts(List<String> names) {
            metaContexts = new ArrayList<>();
            names.forEach(this::addMetaContext);
            return this;
        }

        /**
         * Sets the handshake flags the client will use.
         *
         * @param flags a subset of {@link NbdHandshakeFlags#ALL}
         * @return this builder
         */
        public Builder handshakeFlags(int flags) {
            if ((flags & ~NbdHandshakeFlags.ALL) != 0) {
                throw new IllegalArgumentException("handshakeFlags has unknown bits: 0x" + Integer.toHexString(flags));
            }
            this.handshakeFlags = flags;
            return this;
        }

        /**
         * Sets whether to ask for the canonical name and description.
         *
         * @param fullInfo true to ask
         * @return this builder
         */
        public Builder fullInfo(boolean fullInfo) {
            this.fullInfo = fullInfo;
            return this;
        }

        /**
         * Sets whether to ask for block size constraints.
         *
         * @param request true to ask
         * @return this builder
         */
        public Builder requestBlockSize(boolean request) {
            this.requestBlockSize = request;
            return this;
        }

        /**
         * Sets the strict-mode checks.
         *
         * @param flags a subset of {@link NbdStrict#ALL}, with or without {@link NbdStrict#EXTENTS}
         * @return this builder
         */
        public Builder strictMode(int flags) {
            if ((flags & ~(NbdStrict.ALL | NbdStrict.EXTENTS)) != 0) {
                throw new IllegalArgumentException("strictMode has unknown bits: 0x" + Integer.toHexString(flags));
            }
            this.strictMode = flags;
            return this;
        }

        /**
         * Sets the handshake timeout.
         *
         * @param timeout positive, or {@link Duration#ZERO} for none
         * @return this builder
         */
        public Builder handshakeTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "handshakeTimeout");
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("handshakeTimeout must not be negative: " + timeout);
            }
            this.handshakeTimeout = timeout;
            return this;
        }

        /**
         * Sets the time dialling one address may take.
         *
         * @param timeout positive, or {@link Duration#ZERO} for no limit of the client's own
         * @return this builder
         */
        public Builder connectTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "connectTimeout");
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("connectTimeout must not be negative: " + timeout);
            }
            this.connectTimeout = timeout;
            return this;
        }

        /**
         * Sets the largest option reply accepted.
         *
         * @param bytes at least 1024
         * @return this builder
         */
        public Builder maxOptionReplyLength(int bytes) {
            if (bytes < 1024) {
                throw new IllegalArgumentException("maxOptionReplyLength must be at least 1024: " + bytes);
            }
            this.maxOptionReplyLength = bytes;
            return this;
        }

        /**
         * Sets the largest reply payload accepted.
         *
         * @param bytes at least 4096
         * @return this builder
         */
        public Builder maxReplyPayloadLength(int bytes) {
            if (bytes < 4096) {
                throw new IllegalArgumentException("maxReplyPayloadLength must be at least 4096: " + bytes);
            }
            this.maxReplyPayloadLength = bytes;
            return this;
        }

        /**
         * Sets the cap on requests in flight.
         *
         * @param requests at least 1
         * @return this builder
         */
        public Builder maxInFlightRequests(int requests) {
            if (requests < 1) {
                throw new IllegalArgumentException("maxInFlightRequests must be at least 1: " + requests);
            }
            this.maxInFlightRequests = requests;
            return this;
        }

        /**
         * Sets the cap on bytes in flight.
         *
         * @param bytes at least 1
         * @return this builder
         */
        public Builder maxInFlightBytes(long bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("maxInFlightBytes must be at least 1: " + bytes);
            }
            this.maxInFlightBytes = bytes;
            return this;
        }

        /**
         * Sets the TLS mode.
         *
         * @param mode disable, allow or require
         * @return this builder
         */
        public Builder tls(NbdTlsMode mode) {
            this.tls = Objects.requireNonNull(mode, "tls");
            return this;
        }

        /**
         * Uses the caller's TLS context (a client context) instead of one built from the certificate directory.
         *
         * @param context the context, or null
         * @return this builder
         */
        public Builder sslContext(SslContext context) {
            if (context != null && !context.isClient()) {
                throw new IllegalArgumentException("sslContext must be a client context");
            }
            this.sslContext = context;
            return this;
        }

        /**
         * Sets the certificate directory ({@code ca-cert.pem}, {@code client-cert.pem}, {@code client-key.pem}).
         *
         * @param dir the directory, or null
         * @return this builder
         */
        public Builder tlsCertificates(Path dir) {
            this.tlsCertificates = dir;
            return this;
        }

        /**
         * Sets whether the server's certificate is verified.
         *
         * @param verify true to verify (the default)
         * @return this builder
         */
        public Builder tlsVerifyPeer(boolean verify) {
            this.tlsVerifyPeer = verify;
            return this;
        }

        /**
         * Sets the host name to verify the server's certificate against.
         *
         * @param hostname the name, or null
         * @return this builder
         */
        public Builder tlsHostname(String hostname) {
            this.tlsHostname = hostname;
            return this;
        }

        /**
         * Sets the TLS engine used for contexts this library builds.
         *
         * @param provider {@link SslProvider#JDK} or {@link SslProvider#OPENSSL} (needs netty-tcnative)
         * @return this builder
         */
        public Builder tlsProvider(SslProvider provider) {
            this.tlsProvider = Objects.requireNonNull(provider, "tlsProvider");
            return this;
        }

        /**
         * Sets the per-request timeout.
         *
         * @param timeout positive, or {@link Duration#ZERO} for none
         * @return this builder
         */
        public Builder requestTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "requestTimeout");
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("requestTimeout must not be negative: " + timeout);
            }
            this.requestTimeout = timeout;
            return this;
        }

        /**
         * Sets the cap on block status extents in one reply ({@link NbdClientConfig#maxBlockStatusExtents()}).
         *
         * @param extents at least 1
         * @return this builder
         */
        public Builder maxBlockStatusExtents(int extents) {
            if (extents < 1) {
                throw new IllegalArgumentException("maxBlockStatusExtents must be at least 1: " + extents);
            }
            this.maxBlockStatusExtents = extents;
            return this;
        }

        /**
         * Sets how long the server may send nothing while requests are outstanding ({@link
         * NbdClientConfig#stallTimeout()}).
         *
         * @param timeout positive, or {@link Duration#ZERO} for none
         * @return this builder
         */
        public Builder stallTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "stallTimeout");
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("stallTimeout must not be negative: " + timeout);
            }
            this.stallTimeout = timeout;
            return this;
        }

        /**
         * Sets the request observer.
         *
         * @param listener the listener, or null
         * @return this builder
         */
        public Builder listener(NbdListener listener) {
            this.listener = listener;
            return this;
        }

        /**
         * Sets debug logging.
         *
         * @param debug true to log every option and command at DEBUG
         * @return this builder
         */
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

        private static String checkName(String s, String setting) {
            Objects.requireNonNull(s, setting);
            int length = s.getBytes(StandardCharsets.UTF_8).length;
            if (length > NbdConstants.MAX_STRING_LENGTH) {
                throw new IllegalArgumentException(setting + " is " + length + " bytes of UTF-8; the limit is "
                        + NbdConstants.MAX_STRING_LENGTH);
            }
            if (s.indexOf('\0') >= 0) {
                throw new IllegalArgumentException(setting + " must not contain NUL");
            }
            return s;
        }
    }
}
