package io.nbdnetty.examples.cli;

import io.nbdnetty.client.NbdClientConfig;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The {@code --tls-engine=jdk|openssl} option of the client commands that can speak TLS ({@code info}, {@code copy},
 * {@code bench}, {@code backup}), a picocli mixin: which TLS engine the connections to {@code nbds://} URIs use
 * ({@link NbdClientConfig.Builder#tlsProvider(SslProvider)}). {@code openssl} is BoringSSL through netty-tcnative,
 * which {@code nbd.jar} ships for linux-x86_64; it is the default where it loads, else the JDK's engine is. Asked for
 * where it does not load, the command warns in one line on stderr and uses the JDK's engine. The option is read only
 * when TLS is used: plain connections neither need nor load the native library.
 */
public final class TlsEngineOption {
    /** The engines, by their command-line names. */
    public enum Engine {
        /** The JDK's own TLS engine (SunJSSE). */
        JDK(SslProvider.JDK),
        /** BoringSSL through netty-tcnative. */
        OPENSSL(SslProvider.OPENSSL);

        private final SslProvider provider;

        Engine(SslProvider provider) {
            this.provider = provider;
        }

        /** {@return the Netty provider of this engine} */
        public SslProvider provider() {
            return provider;
        }

        /** {@return the command-line name: {@code jdk} or {@code openssl}} */
        public String cliName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    @Option(names = "--tls-engine", paramLabel = "ENGINE", converter = Converter.class,
            description = "TLS engine for nbds:// URIs: openssl (BoringSSL, shipped for linux-x86_64) or jdk "
                    + "(default: openssl where it loads, else jdk). Asked for where it does not load, openssl falls "
                    + "back to jdk with a warning.")
    Engine requested;

    @CommandLine.Spec(CommandLine.Spec.Target.MIXEE)
    CommandLine.Model.CommandSpec mixee;

    /** Why netty-tcnative cannot be used here, or null when it can; replaced by tests. */
    private final Supplier<Throwable> openSslUnavailable;

    private Engine used;

    /** The option as the commands use it: netty-tcnative's own answer decides whether BoringSSL is available. */
    public TlsEngineOption() {
        this(() -> OpenSsl.isAvailable() ? null : OpenSsl.unavailabilityCause());
    }

    /**
     * The option with another answer to "can BoringSSL be used here" (for tests).
     *
     * @param openSslUnavailable why it cannot, or null when it can
     */
    TlsEngineOption(Supplier<Throwable> openSslUnavailable) {
        this.openSslUnavailable = openSslUnavailable;
    }

    /**
     * Sets the engine on a configuration when the connection will speak TLS; a requested engine that is not
     * available here falls back to the JDK's, after a one-line warning on stderr.
     *
     * @param b the builder
     * @param tls whether the command's URIs use TLS (only then is the engine chosen, and the native library loaded)
     * @return the builder
     */
    public NbdClientConfig.Builder apply(NbdClientConfig.Builder b, boolean tls) {
        if (!tls) {
            return b;
        }
        return b.tlsProvider(resolve().provider());
    }

    /**
     * The engine to use: the requested one if it is available, else the JDK's (after a warning); without a request,
     * BoringSSL where it loads, else the JDK's. Decided once; later calls return the same engine.
     *
     * @return the engine
     */
    public Engine resolve() {
        if (used != null) {
            return used;
        }
        if (requested == Engine.JDK) {
            used = Engine.JDK;
            return used;
        }
        Throwable cause = openSslUnavailable.get();
        if (cause == null) {
            used = Engine.OPENSSL;
        } else {
            used = Engine.JDK;
            if (requested == Engine.OPENSSL) {
                PrintWriter err = mixee.commandLine().getErr();
                err.println(mixee.qualifiedName() + ": warning: the openssl TLS engine (BoringSSL) is not available "
                        + "here (" + reason(cause) + "); using jdk");
                err.flush();
            }
        }
        return used;
    }

    private static String reason(Throwable cause) {
        Throwable t = cause;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String m = t.getMessage() != null ? t.getMessage() : cause.getMessage();
        return m != null ? m.lines().findFirst().orElse("no reason given") : "no reason given";
    }

    /**
     * The engine chosen, for reports.
     *
     * @return {@code jdk} or {@code openssl}; null when no TLS connection was set up
     */
    public String usedName() {
        return used == null ? null : used.cliName();
    }

    /** Parses {@code jdk} or {@code openssl} (in any case). */
    public static final class Converter implements CommandLine.ITypeConverter<Engine> {
        @Override
        public Engine convert(String value) {
            for (Engine e : Engine.values()) {
                if (e.cliName().equalsIgnoreCase(value)) {
                    return e;
                }
            }
            throw new CommandLine.TypeConversionException("'" + value + "' is not a TLS engine: jdk or openssl");
        }
    }
}
