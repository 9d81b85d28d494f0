package io.nbdnetty.examples.cli.info;

import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdUri;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/** The {@code uri} nbd info prints, as libnbd's {@code nbd_get_uri} builds it (libxml2's escaping included). */
final class UriText {
    private UriText() {
    }

    /** libnbd's {@code nbd_get_uri}: the scheme, the server or socket, the current export, tls-certificates. */
    static String uriOf(NbdHandle h, NbdUri uri) {
        boolean tls = uri.tls() || h.tlsNegotiated();
        StringBuilder sb = new StringBuilder();
        String query = null;
        if (uri.transport() == NbdUri.Transport.UNIX) {
            sb.append(tls ? "nbds+unix" : "nbd+unix").append("://");
            query = "socket=" + uri.socket();
        } else if (uri.transport() == NbdUri.Transport.VSOCK) {
            sb.append(tls ? "nbds+vsock" : "nbd+vsock").append("://").append(uri.host()).append(':')
                    .append(Integer.toUnsignedString(uri.port()));
        } else {
            sb.append(tls ? "nbds" : "nbd").append("://");
            String host = uri.host();
            sb.append(host.contains(":") ? "[" + host + "]" : host).append(':').append(uri.port());
        }
        sb.append('/').append(escapePath(h.exportName()));
        String certs = uri.query().get("tls-certificates");
        if (certs != null) {
            query = (query == null ? "" : query + "&") + "tls-certificates=" + certs;
        }
        if (query != null) {
            sb.append('?').append(query);
        }
        return sb.toString();
    }

    /** libxml2's escaping of a URI path (xmlSaveUri): unreserved characters and "/;:@&=+$," stay. */
    static String escapePath(String s) {
        StringBuilder sb = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || "-_.!~*'()/;:@&=+$,".indexOf(c) >= 0) {
                sb.append((char) c);
            } else {
                sb.append('%').append(String.format(Locale.ROOT, "%02X", c));
            }
        }
        return sb.toString();
    }
}
