package io.nbdnetty.client;

import java.io.FileNotFoundException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Says why an I/O operation failed in the operating system's words ({@code "No such file or directory"}, {@code
 * "Connection reset by peer"}), never with a Java or Netty class name, an errno number ({@code error(-104)}) or an
 * ISO-8601 duration. Every message of this library that passes on a lower layer's failure uses it; the exception's
 * cause chain keeps the original for callers and logs. Applications may use it for their own messages.
 *
 * <p>Thread-safe (stateless).
 */
public final class NbdErrors {
    private NbdErrors() {
    }

    /**
     * Netty's native transports: {@code "recvAddress(..) failed with error(-104): Connection reset by peer"}, and
     * {@code "epoll_create1() failed: Too many open files"} when an event loop cannot start.
     */
    private static final Pattern NATIVE =
            Pattern.compile("^[\\w ]*\\((?:\\.\\.)?\\) failed(?: with error\\(-?\\d+\\))?: ");
    /** Netty appends the remote address: {@code "...: /127.0.0.1:10809"} or a socket path. */
    private static final Pattern ADDRESS_SUFFIX = Pattern.compile(": (?:[\\w.-]*/[^ ]*|/[^ ]*)$");
    /** {@code FileInputStream} and friends: {@code "/path (No such file or directory)"}. */
    private static final Pattern PATH_AND_REASON = Pattern.compile("^.* \\(([^()]+)\\)$");
    /** Netty's connect timeout: {@code "connection timed out after 30000 ms: /10.0.0.1:10809"}. */
    private static final Pattern CONNECT_TIMEOUT = Pattern.compile("^connection timed out after (\\d+) ms.*");
    /** A Java class name in a message (a fully qualified one, or a simple one ending in Exception or Error). */
    private static final Pattern CLASS_NAME = Pattern.compile(
            "\\b(?:(?:java|javax|sun|jdk|io\\.netty|com\\.sun)\\.[\\w.$]+|[A-Z]\\w*(?:Exception|Error))\\b:? ?");
    private static final Pattern ISO_DURATION = Pattern.compile("\\bPT(?:\\d+(?:\\.\\d+)?[HMS])+\\b");

    /**
     * Returns the reason a lower layer gave for a failure, in words: the operating system's reason where there is
     * one ({@code "Connection refused"}), a TLS failure explained ({@code "the server's certificate is not trusted
     * ..."}), otherwise the message with any class name taken out. Messages of this library's own exceptions ({@link
     * NbdException}) are returned as they are.
     *
     * @param t the failure
     * @return the reason, never empty
     */
    public static String inWords(Throwable t) {
        if (t == null) {
            return "unknown error";
        }
        if (t instanceof NbdException) {
            return t.getMessage() != null ? t.getMessage() : "unknown error";
        }
        String tls = tlsReason(t);
        if (tls != null) {
            return tls;
        }
        String m = t.getMessage();
        if (t instanceof NoSuchFileException) {
            return "No such file or directory";
        }
        if (t instanceof AccessDeniedException) {
            return "Permission denied";
        }
        if (t instanceof FileAlreadyExistsException) {
            return "File exists";
        }
        if (t instanceof DirectoryNotEmptyException) {
            return "Directory not empty";
        }
        if (t instanceof NotDirectoryException) {
            return "Not a directory";
        }
        if (t instanceof NotLinkException) {
            return "Not a symbolic link";
        }
        if (t instanceof FileSystemLoopException) {
            return "Too many levels of symbolic links";
        }
        if (t instanceof FileSystemException fse) {
            return fse.getReason() != null ? clean(fse.getReason()) : "file system error";
        }
        if (t instanceof FileNotFoundException) {
            if (m == null) {
                return "No such file or directory";
            }
            Matcher pr = PATH_AND_REASON.matcher(m);
            return pr.matches() ? pr.group(1) : clean(m);
        }
        if (t instanceof UnknownHostException) {
            // The JDK's: "host: Name or service not known", or the bare host name.
            return m == null || m.isBlank() ? "unknown host" : m.contains(": ") ? clean(m) : m + ": unknown host";
        }
        if (m != null) {
            Matcher ct = CONNECT_TIMEOUT.matcher(m);
            if (ct.matches()) {
                return "connection timed out after " + NbdDurations.inWords(Duration.ofMillis(
                        Long.parseLong(ct.group(1))));
            }
        }
        if (t instanceof ClosedChannelException) {
            return "the connection was closed";
        }
        if (m == null || m.isBlank()) {
            if (t instanceof ConnectException) {
                return "Connection refused";
            }
            if (t instanceof NoRouteToHostException) {
                return "No route to host";
            }
            if (t instanceof SocketTimeoutException) {
                return "timed out";
            }
            if (t.getCause() != null && t.getCause() != t) {
                return inWords(t.getCause());
            }
            return "unexpected " + words(t.getClass().getSimpleName());
        }
        return clean(m);
    }

    /**
     * A message with Netty's system call prefix, the address Netty appends, class names and ISO-8601 durations
     * taken out.
     */
    static String clean(String m) {
        String s = NATIVE.matcher(m).replaceFirst("");
        s = ADDRESS_SUFFIX.matcher(s).replaceFirst("");
        s = CLASS_NAME.matcher(s).replaceAll("");
        Matcher d = ISO_DURATION.matcher(s);
        StringBuilder sb = new StringBuilder();
        while (d.find()) {
            d.appendReplacement(sb, Matcher.quoteReplacement(NbdDurations.inWords(Duration.parse(d.group()))));
        }
        d.appendTail(sb);
        s = sb.toString().strip();
        if (s.startsWith(":")) {
            s = s.substring(1).strip();
        }
        return s.isEmpty() ? "unknown error" : s;
    }

    /** "SSLHandshakeException" to "SSL handshake exception" style words, for the last resort. */
    private static String words(String simpleName) {
        String base = simpleName.replaceAll("(Exception|Error)$", "");
        String w = base.replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase(Locale.ROOT);
        return (w.isEmpty() ? "" : w + " ") + "error";
    }

    /** A TLS failure explained, or null if {@code t} is not one. */
    private static String tlsReason(Throwable t) {
        boolean ssl = false;
        String alert = null;
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof javax.net.ssl.SSLException) {
                ssl = true;
            }
            if (c instanceof CertificateExpiredException) {
                return "the server's certificate has expired";
            }
            if (c instanceof CertificateNotYetValidException) {
                return "the server's certificate is not valid yet";
            }
            if (c instanceof CertPathBuilderException || c instanceof CertPathValidatorException) {
                return "the server's certificate is not trusted (pass tls-certificates=DIR with the CA's ca-cert.pem "
                        + "in it, or tls-verify-peer=false)";
            }
            String m = c.getMessage();
            if (m != null) {
                if (m.contains("No subject alternative") || m.contains("No name matching")) {
                    return "the server's certificate is not for this host name (set tls-hostname=NAME to the name "
                            + "in it)";
                }
                if (m.contains("unable to find valid certification path")) {
                    return "the server's certificate is not trusted (pass tls-certificates=DIR with the CA's "
                            + "ca-cert.pem in it, or tls-verify-peer=false)";
                }
                int i = m.indexOf("fatal alert: ");
                if (i >= 0 && alert == null) {
                    alert = m.substring(i + "fatal alert: ".length()).strip();
                }
            }
        }
        if (!ssl) {
            return null;
        }
        if (alert != null) {
            return switch (alert.toLowerCase(Locale.ROOT)) {
                case "certificate_required" -> "the server requires a client certificate (put client-cert.pem and "
                        + "client-key.pem in the tls-certificates directory)";
                case "bad_certificate", "unknown_ca", "certificate_unknown" ->
                    "the server did not accept the client certificate";
                case "handshake_failure" -> "the server and the client have no TLS settings in common";
                case "protocol_version" -> "the server and the client have no TLS version in common";
                default -> "the server ended the TLS handshake (" + alert.replace('_', ' ') + ")";
            };
        }
        String m = t.getMessage();
        return m != null && !m.isBlank() ? clean(m) : "TLS error";
    }
}
