package io.nbdnetty.examples.cli;

import io.nbdnetty.examples.server.FileExport;
import io.nbdnetty.examples.server.MemoryExport;
import io.nbdnetty.examples.server.NbdExport;
import io.nbdnetty.examples.server.NbdServer;
import io.netty.channel.unix.DomainSocketAddress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code nbd serve}: runs the example {@link NbdServer} until interrupted, serving memory or a file.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve memory or a file over NBD until interrupted (Ctrl-C).")
public final class ServeCommand implements Callable<Integer> {
    /** The default memory export size. */
    static final String DEFAULT_SIZE = "64M";

    @Spec
    CommandSpec spec;

    @Option(names = "--unix", paramLabel = "PATH", description = "Listen on this Unix socket (must not exist).")
    Path unix;

    @Option(names = "--port", paramLabel = "N",
            description = "Listen on this TCP port (default 10809 unless --unix is given; 0 picks a free one).")
    Integer port;

    @Option(names = "--bind", paramLabel = "ADDR",
            description = "TCP address to listen on (default: ${DEFAULT-VALUE}).",
            defaultValue = "127.0.0.1")
    String bind;

    @Option(names = "--size", paramLabel = "SIZE",
            description = "Size of each memory export, e.g. 512, 4K, 64M, 1G, 2T (default " + DEFAULT_SIZE + ").")
    String size;

    @Option(names = "--file", paramLabel = "PATH", description = "Serve this file (or block device) instead of memory.")
    Path file;

    @Option(names = "--export", paramLabel = "NAME",
            description = "Export name; repeat for several exports, each with its own memory (or the same file). "
                    + "Default: one export named \"\".")
    List<String> exports = new ArrayList<>();

    @Option(names = "--read-only", description = "Refuse writes.")
    boolean readOnly;

    @Option(names = "--no-structured-replies", description = "Refuse NBD_OPT_STRUCTURED_REPLY.")
    boolean noStructuredReplies;

    @Option(names = "--no-extended-headers", description = "Refuse NBD_OPT_EXTENDED_HEADERS.")
    boolean noExtendedHeaders;

    @Option(names = "--no-multi-conn", description = "Do not advertise NBD_FLAG_CAN_MULTI_CONN.")
    boolean noMultiConn;

    @Option(names = "--oldstyle", description = "Use the oldstyle handshake (one export, simple replies).")
    boolean oldstyle;

    @Option(names = "--description", paramLabel = "TEXT", description = "Description of the exports.")
    String description;

    @Option(names = "--block-size", paramLabel = "MIN,PREF,MAX",
            description = "Advertise and enforce block size constraints, e.g. 512,4096,32M.")
    String blockSize;

    @Override
    public Integer call() throws Exception {
        NbdServer server = buildServer();
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "nbd-serve-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            SocketAddress bound = server.bind(address());
            PrintWriter out = spec.commandLine().getOut();
            for (var e : server.exports().entrySet()) {
                out.println("serving export \"" + e.getKey() + "\" (" + e.getValue() + ") at "
                        + uri(bound, e.getKey()));
            }
            out.flush();
        } catch (IOException | RuntimeException e) {
            Runtime.getRuntime().removeShutdownHook(hook);
            server.close();
            throw e;
        }
        stopped.await();
        return 0;
    }

    /**
     * Builds the server the options describe, without binding it.
     *
     * @return the server
     * @throws IOException if the file cannot be opened
     * @throws ParameterException if options conflict
     */
    NbdServer buildServer() throws IOException {
        if (unix != null && port != null) {
            throw usage("--unix and --port are exclusive");
        }
        if (port != null && (port < 0 || port > 65535)) {
            throw usage("--port " + port + " is out of range (0 to 65535)");
        }
        if (file != null && size != null) {
            throw usage("--size and --file are exclusive");
        }
        if (oldstyle && exports.size() > 1) {
            throw usage("--oldstyle serves a single export");
        }
        long bytes = parseSize(size != null ? size : DEFAULT_SIZE);
        NbdServer.Builder b = NbdServer.builder().readOnly(readOnly).structuredReplies(!noStructuredReplies)
                .extendedHeaders(!noExtendedHeaders).multiConn(!noMultiConn).oldstyle(oldstyle);
        if (description != null) {
            b.description(description);
        }
        if (blockSize != null) {
            String[] parts = blockSize.split(",", -1);
            if (parts.length != 3) {
                throw usage("--block-size wants MIN,PREF,MAX, e.g. 512,4096,32M: " + blockSize);
            }
            try {
                b.blockSizes(toInt(parts[0]), toInt(parts[1]), toInt(parts[2]));
            } catch (IllegalArgumentException e) {
                throw usage("--block-size: " + e.getMessage());
            }
        }
        List<String> names = exports.isEmpty() ? List.of("") : exports;
        List<NbdExport> opened = new ArrayList<>();
        try {
            for (String name : names) {
                NbdExport export = file != null ? new FileExport(file, readOnly) : new MemoryExport(bytes);
                opened.add(export);
                b.export(name, export);
            }
            return b.build();
        } catch (IOException | RuntimeException e) {
            for (NbdExport x : opened) {
                x.close();
            }
            if (e instanceof IllegalArgumentException) {
                throw usage(e.getMessage());
            }
            throw e;
        }
    }

    private int toInt(String s) {
        long v = parseSize(s);
        if (v > Integer.MAX_VALUE) {
            throw usage("block size too large: " + s);
        }
        return (int) v;
    }

    SocketAddress address() {
        if (unix != null) {
            return new DomainSocketAddress(unix.toString());
        }
        return new InetSocketAddress(bind, port != null ? port : 10809);
    }

    /**
     * Renders the NBD URI (doc/uri.md) of an export at a bound address.
     *
     * @param bound the address
     * @param export the export name
     * @return the URI
     */
    static String uri(SocketAddress bound, String export) {
        String name = export.isEmpty() ? "" : encode(export);
        if (bound instanceof DomainSocketAddress d) {
            return "nbd+unix:///" + name + "?socket=" + d.path();
        }
        if (bound instanceof InetSocketAddress i) {
            String host = i.getAddress() != null ? i.getAddress().getHostAddress() : i.getHostString();
            if (host.contains(":")) {
                host = "[" + host + "]";
            }
            return "nbd://" + host + ":" + i.getPort() + "/" + name;
        }
        return String.valueOf(bound);
    }

    private static String encode(String s) {
        StringBuilder sb = new StringBuilder();
        for (byte b : s.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "-._~/".indexOf(c) >= 0) {
                sb.append(c);
            } else {
                sb.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return sb.toString();
    }

    /**
     * Parses a size with an optional binary suffix: K, M, G, T, P, E (also KiB/KB and the like), case-insensitive.
     *
     * @param text e.g. {@code 64M}
     * @return the size in bytes
     * @throws ParameterException if it is not a size
     */
    long parseSize(String text) {
        try {
            return parseSizeValue(text);
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
    }

    /**
     * Parses a size with an optional binary suffix (see {@link #parseSize}).
     *
     * @param text the size
     * @return bytes
     * @throws IllegalArgumentException if it is not a size
     */
    public static long parseSizeValue(String text) {
        String s = text.trim().toUpperCase(Locale.ROOT);
        if (s.endsWith("IB")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("B") && s.length() > 1 && !Character.isDigit(s.charAt(s.length() - 2))) {
            s = s.substring(0, s.length() - 1);
        } else if (s.endsWith("B")) {
            s = s.substring(0, s.length() - 1);
        }
        int shift = 0;
        if (!s.isEmpty()) {
            int unit = "KMGTPE".indexOf(s.charAt(s.length() - 1));
            if (unit >= 0) {
                shift = 10 * (unit + 1);
                s = s.substring(0, s.length() - 1);
            }
        }
        long value;
        try {
            value = Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a size: \"" + text + "\" (try 512, 4K, 64M, 1G)");
        }
        if (value < 0 || (shift > 0 && value > (Long.MAX_VALUE >> shift))) {
            throw new IllegalArgumentException("size out of range: " + text);
        }
        return value << shift;
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
