package io.nbdnetty.client;

import io.nbdnetty.client.internal.VsockTransport;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * An NBD URI (NetworkBlockDevice/nbd {@code doc/uri.md}): {@code nbd://host[:port]/export}, {@code nbds://...} (TLS
 * required), {@code nbd+unix:///export?socket=PATH}, {@code nbds+unix:///export?socket=PATH}, and {@code
 * nbd+vsock://CID[:PORT]/export} and {@code nbds+vsock://...} (AF_VSOCK; as in libnbd, no CID means the host, 2,
 * and the port is 10809 by default). Query parameters: {@code socket},
 * {@code tls-certificates}, {@code tls-verify-peer}, {@code tls-hostname}, {@code tls-type} ({@code x509} only);
 * {@code tls-psk-file} and {@code tls-username} are refused (no TLS-PSK, see the TLS guide); {@code x-*} are ignored;
 * anything else is an error, as the spec recommends.
 *
 * @param scheme the scheme, e.g. {@code nbd+unix}
 * @param transport TCP, UNIX or VSOCK
 * @param tls whether the scheme requires TLS ({@code nbds*})
 * @param host the host (TCP) or the CID in decimal (vsock, see {@link #vsockCid()}), null for a Unix socket
 * @param port the port (10809 by default); for vsock an unsigned 32-bit number held in an int
 * @param socket the Unix socket path, null for TCP
 * @param exportName the export name (the path without its leading slash, percent-decoded)
 * @param query every query parameter, decoded
 */
public record NbdUri(String scheme, Transport transport, boolean tls, String host, int port, Path socket,
        String exportName, Map<String, String> query) {

    /** How the URI reaches its server. */
    public enum Transport {
        /** TCP/IP. */
        TCP,
        /** A Unix domain socket. */
        UNIX,
        /** AF_VSOCK. */
        VSOCK
    }

    /**
     * Copies the query map.
     *
     * @param scheme the scheme
     * @param transport the transport
     * @param tls whether TLS is required
     * @param host the host
     * @param port the port
     * @param socket the socket
     * @param exportName the export name
     * @param query the query
     */
    public NbdUri {
        Objects.requireNonNull(scheme, "scheme");
        Objects.requireNonNull(transport, "transport");
        Objects.requireNonNull(exportName, "exportName");
        query = Map.copyOf(query);
    }

    /**
     * Parses an NBD URI.
     *
     * @param text the URI
     * @return the parsed URI
     * @throws IllegalArgumentException with a message naming what is wrong
     */
    public static NbdUri parse(String text) {
        Objects.requireNonNull(text, "uri");
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("invalid NBD URI '" + text + "': " + e.getMessage(), e);
        }
        String scheme = uri.getScheme();
        if (scheme == null) {
            throw new IllegalArgumentException("invalid NBD URI '" + text
                    + "': no scheme (use nbd://, nbds://, nbd+unix:// or nbds+unix://)");
        }
        scheme = scheme.toLowerCase(Locale.ROOT);
        Transport transport;
        boolean tls;
        switch (scheme) {
            case "nbd" -> { transport = Transport.TCP; tls = false; }
            case "nbds" -> { transport = Transport.TCP; tls = true; }
            case "nbd+unix" -> { transport = Transport.UNIX; tls = false; }
            case "nbds+unix" -> { transport = Transport.UNIX; tls = true; }
            case "nbd+vsock" -> { transport = Transport.VSOCK; tls = false; }
            case "nbds+vsock" -> { transport = Transport.VSOCK; tls = true; }
            default -> throw new IllegalArgumentException("invalid NBD URI '" + text + "': unknown scheme '" + scheme
                    + "' (use nbd, nbds, nbd+unix, nbds+unix, nbd+vsock or nbds+vsock)");
        }
        Map<String, String> query = parseQuery(text, uri.getRawQuery());
        for (String key : query.keySet()) {
            switch (key) {
                case "socket", "tls-certificates", "tls-verify-peer", "tls-hostname", "tls-type" -> { }
                case "tls-psk-file", "tls-username" -> throw new IllegalArgumentException("invalid NBD URI '" + text
                        + "': " + key + ": TLS-PSK is not supported by this client (use X.509 certificates)");
                default -> {
                    if (!key.startsWith("x-")) {
                        throw new IllegalArgumentException("invalid NBD URI '" + text + "': unknown query parameter '"
                                + key + "'");
                    }
                }
            }
        }
        String type = query.get("tls-type");
        if (type != null && !type.equals("x509")) {
            throw new IllegalArgumentException("invalid NBD URI '" + text + "': tls-type=" + type
                    + " is not supported (only x509)");
        }
        String verify = query.get("tls-verify-peer");
        if (verify != null && !verify.equals("0") && !verify.equals("1") && !verify.equals("true")
                && !verify.equals("false")) {
            throw new IllegalArgumentException("invalid NBD URI '" + text + "': tls-verify-peer must be 0 or 1");
        }
        String path = uri.getPath() == null ? "" : uri.getPath();
        String exportName = path.startsWith("/") ? path.substring(1) : path;
        String host = null;
        int port = -1;
        Path socket = null;
        if (transport == Transport.UNIX) {
            String s = query.get("socket");
            if (s == null || s.isEmpty()) {
                throw new IllegalArgumentException("invalid NBD URI '" + text + "': " + scheme
                        + " needs a socket=PATH query parameter");
            }
            if (uri.getRawAuthority() != null && !uri.getRawAuthority().isEmpty()) {
                throw new IllegalArgumentException("invalid NBD URI '" + text + "': a Unix socket URI has no host"
                        + " (write " + scheme + ":///" + exportName + "?socket=...)");
            }
            if (s.charAt(0) == '\0') {
                throw new IllegalArgumentException("invalid NBD URI '" + text + "': sockets in the abstract namespace "
                        + "are not supported by this client");
            }
            socket = Path.of(s);
        } else if (transport == Transport.VSOCK) {
            if (query.containsKey("socket")) {
                throw new IllegalArgumentException("invalid NBD URI '" + text + "': socket= is only for "
                        + "nbd+unix and nbds+unix");
            }
            // Parsed by hand: a vsock port may exceed what java.net.URI takes for a port.
            String authority = uri.getRawAuthority() == null ? "" : uri.getRawAuthority();
            int colon = authority.lastIndexOf(':');
            String cid = colon < 0 ? authority : authority.substring(0, colon);
            host = cid.isEmpty() ? Integer.toString(VsockTransport.CID_HOST)
                    : Integer.toUnsignedString(unsigned32(text, "vsock CID", cid));
            port = colon < 0 || colon == authority.length() - 1 ? VsockTransport.DEFAULT_PORT
                    : unsigned32(text, "vsock port", authority.substring(colon + 1));
        } else {
            if (query.containsKey("socket")) {
                throw new IllegalArgumentException("invalid NBD URI '" + text + "': socket= is only for "
                        + "nbd+unix and nbds+unix");
            }
            host = uri.getHost();
            if (host == null || host.isEmpty()) {
                throw new IllegalArgumentException("invalid NBD URI '" + text + "': no host");
            }
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            port = uri.getPort() >= 0 ? uri.getPort() : transport == Transport.TCP ? 10809 : 10809;
            if (port > 65535) {
                throw new IllegalArgumentException("invalid NBD URI '" + text + "': port " + port
                        + " is out of range (1 to 65535)");
            }
        }
        return new NbdUri(scheme, transport, tls, host, port, socket, exportName, query);
    }

    /** A decimal unsigned 32-bit number (CIDs and vsock ports), as an int holding its bits. */
    private static int unsigned32(String text, String what, String value) {
        if (!value.matches("[0-9]{1,10}")) {
            throw new IllegalArgumentException("invalid NBD URI '" + text + "': the " + what
                    + " must be a number, not '" + value + "'");
        }
        long v = Long.parseLong(value);
        if (v > 0xffffffffL) {
            throw new IllegalArgumentException("invalid NBD URI '" + text + "': the " + what + " " + value
                    + " does not fit 32 bits");
        }
        return (int) v;
    }

    /**
     * The vsock context id: {@link #host()} as the unsigned 32-bit number it holds (2, the host, when the URI names
     * none).
     *
     * @return the CID's bits (read it with {@link Integer#toUnsignedLong(int)})
     * @throws IllegalStateException if this is not a vsock URI
     */
    public int vsockCid() {
        if (transport != Transport.VSOCK) {
            throw new IllegalStateException(scheme + " URIs have no vsock CID");
        }
        return Integer.parseUnsignedInt(host);
    }

    private static Map<String, String> parseQuery(String text, String raw) {
        Map<String, String> query = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return query;
        }
        for (String part : raw.split("&")) {
            if (part.isEmpty()) {
                continue;
            }
            int eq = part.indexOf('=');
            String key = decode(eq < 0 ? part : part.substring(0, eq));
            String value = eq < 0 ? "" : decode(part.substring(eq + 1));
            if (query.put(key, value) != null) {
                throw new IllegalArgumentException("invalid NBD URI '" + text + "': query parameter '" + key
                        + "' given twice");
            }
        }
        return query;
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /**
     * Applies the URI to a configuration: the export name, TLS ({@code nbds*} requires it; {@code nbd*} leaves the
     * configuration's mode), and the TLS query parameters.
     *
     * @param base the configuration to start from
     * @return the configuration for this URI
     */
    public NbdClientConfig configure(NbdClientConfig base) {
        NbdClientConfig.Builder b = base.mutate().exportName(exportName);
        if (tls) {
            b.tls(NbdTlsMode.REQUIRE);
        }
        String certs = query.get("tls-certificates");
        if (certs != null) {
            b.tlsCertificates(Path.of(certs));
        }
        String verify = query.get("tls-verify-peer");
        if (verify != null) {
            b.tlsVerifyPeer(verify.equals("1") || verify.equals("true"));
        }
        String hostname = query.get("tls-hostname");
        if (hostname != null) {
            b.tlsHostname(hostname);
        }
        return b.build();
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(scheme).append("://");
        if (host != null) {
            sb.append(host.contains(":") ? "[" + host + "]" : host);
            if (port != 10809) {
                sb.append(':').append(transport == Transport.VSOCK ? Integer.toUnsignedString(port) : port);
            }
        }
        sb.append('/').append(exportName);
        if (socket != null) {
            sb.append("?socket=").append(socket);
        }
        return sb.toString();
    }
}
