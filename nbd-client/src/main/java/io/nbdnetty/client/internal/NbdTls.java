package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdClientConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Builds the client's TLS engine from the configuration. */
final class NbdTls {
    /** How many built contexts {@link #context} keeps (each a different engine, directory or peer check). */
    static final int CACHED_CONTEXTS = 16;

    /** Built contexts by what they were built from, least recently used first. Guarded by itself. */
    private static final Map<Key, Built> CACHE = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, Built> eldest) {
            return size() > CACHED_CONTEXTS;
        }
    };

    /** What a built context depends on besides its files. */
    private record Key(SslProvider provider, Path dir, boolean verifyPeer) {
    }

    /** A built context and the state of the files it was built from. */
    private record Built(List<String> stamps, SslContext context) {
    }

    private NbdTls() {
    }

    /**
     * The SslContext for a configuration: the caller's own, or one from the certificate directory (nbdkit and
     * libnbd's layout: {@code ca-cert.pem}, {@code client-cert.pem}, {@code client-key.pem}), or the JDK's trust store.
     *
     * <p>A built context is kept and shared by the connections that follow with the same engine, directory and peer
     * check, as long as the three files keep their size and modification time: a pool of N connections reads and
     * parses its certificates and key once rather than N times, and certificates replaced on disk are read again by
     * the next connection, as libnbd reads them for each.
     */
    static SslContext context(NbdClientConfig config) throws SSLException {
        if (config.sslContext() != null) {
            return config.sslContext();
        }
        Path dir = config.tlsCertificates() == null ? null : config.tlsCertificates().toAbsolutePath().normalize();
        Key key = new Key(config.tlsProvider(), dir, config.tlsVerifyPeer());
        List<String> stamps = stamps(dir);
        synchronized (CACHE) {
            Built b = CACHE.get(key);
            if (b != null && b.stamps().equals(stamps)) {
                return b.context();
            }
        }
        // Built outside the lock: two connections that race here each build one, and the later one is kept.
        SslContext built = build(config);
        synchronized (CACHE) {
            CACHE.put(key, new Built(stamps, built));
        }
        return built;
    }

    /** Size and modification time of each file a context reads ("-" for one that is missing or unreadable). */
    private static List<String> stamps(Path dir) {
        if (dir == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>(3);
        for (String name : new String[] {"ca-cert.pem", "client-cert.pem", "client-key.pem"}) {
            Path f = dir.resolve(name);
            try {
                BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
                out.add(Files.isReadable(f) ? a.size() + "@" + a.lastModifiedTime().to(TimeUnit.NANOSECONDS) : "-");
            } catch (IOException e) {
                out.add("-");
            }
        }
        return out;
    }

    /** Forgets every kept context (tests). */
    static void clearCache() {
        synchronized (CACHE) {
            CACHE.clear();
        }
    }

    private static SslContext build(NbdClientConfig config) throws SSLException {
        // Host names are checked per engine, where a host is known (see handler()).
        SslProvider provider = config.tlsProvider();
        if (provider != SslProvider.JDK && !OpenSsl.isAvailable()) {
            throw new SSLException("the TLS engine " + provider + " needs netty-tcnative (add "
                    + "io.netty:netty-tcnative-boringssl-static to the class path): " + OpenSsl.unavailabilityCause());
        }
        SslContextBuilder b = SslContextBuilder.forClient().sslProvider(provider).endpointIdentificationAlgorithm(null);
        Path dir = config.tlsCertificates();
        if (dir != null) {
            Path ca = dir.resolve("ca-cert.pem");
            Path cert = dir.resolve("client-cert.pem");
            Path key = dir.resolve("client-key.pem");
            if (Files.isReadable(ca)) {
                b.trustManager(ca.toFile());
            }
            if (Files.isReadable(cert) && Files.isReadable(key)) {
                b.keyManager(cert.toFile(), key.toFile());
            }
        }
        if (!config.tlsVerifyPeer()) {
            b.trustManager(InsecureTrustManagerFactory.INSTANCE);
        }
        return b.build();
    }

    /**
     * The TLS handler of one connection.
     *
     * @param prepared the context {@link #context} gave on the connecting thread, or null to ask it now
     */
    static SslHandler handler(SslContext prepared, NbdClientConfig config, ByteBufAllocator alloc, String host,
            int port) throws SSLException {
        SslContext ctx = prepared != null ? prepared : context(config);
        SSLEngine engine = host != null ? ctx.newEngine(alloc, host, port) : ctx.newEngine(alloc);
        // The name is checked only where there is one to check (Netty 4.2 would otherwise insist on one).
        SSLParameters p = engine.getSSLParameters();
        p.setEndpointIdentificationAlgorithm(config.tlsVerifyPeer() && host != null ? "HTTPS" : null);
        engine.setSSLParameters(p);
        SslHandler ssl = new SslHandler(engine);
        if (!(engine instanceof ReferenceCountedOpenSslEngine)) {
            // The JDK's engine (or another Java one): records decrypted from heap copies (HEAP_CUMULATOR).
            ssl.setCumulator(HEAP_CUMULATOR);
        }
        return ssl;
    }

    /**
     * The JDK's engine decrypts a record in place in the buffer it reads it from, and its AES-GCM is much faster on
     * a byte array (where the JVM's intrinsics for AES and GHASH apply to whole runs of blocks) than on a direct
     * buffer (copied through the GHASH code in pieces). Socket reads are direct: this cumulator copies them, once,
     * into heap buffers that the engine then decrypts from. Ownership as Netty's MERGE_CUMULATOR: {@code in} is
     * released or becomes the cumulation.
     */
    static final ByteToMessageDecoder.Cumulator HEAP_CUMULATOR = (alloc, cumulation, in) -> {
        if (cumulation == in) {
            in.release();
            return cumulation;
        }
        if (!cumulation.isReadable() && in.hasArray()) {
            cumulation.release();
            return in;
        }
        try {
            int n = in.readableBytes();
            if (cumulation.hasArray() && cumulation.refCnt() == 1 && !cumulation.isReadOnly()
                    && cumulation.writableBytes() >= n) {
                cumulation.writeBytes(in);
                return cumulation;
            }
            // The old cumulation's indexes stay as they are (someone else may still hold it, as Netty's own).
            ByteBuf heap = alloc.heapBuffer(cumulation.readableBytes() + n);
            heap.writeBytes(cumulation, cumulation.readerIndex(), cumulation.readableBytes()).writeBytes(in);
            cumulation.release();
            return heap;
        } finally {
            in.release();
        }
    };
}
