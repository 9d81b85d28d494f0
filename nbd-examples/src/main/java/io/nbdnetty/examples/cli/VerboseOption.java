package io.nbdnetty.examples.cli;

import io.netty.util.internal.logging.InternalLoggerFactory;
import io.netty.util.internal.logging.JdkLoggerFactory;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * {@code -v}/{@code --verbose} of {@code nbd info} and {@code nbd copy}: prints the NBD conversation (options and
 * their replies, commands and their completions) on stderr, one line each prefixed {@code nbd: debug:}, as {@code
 * LIBNBD_DEBUG=1} does for nbdinfo and nbdcopy. It turns on the client's debug logging ({@link
 * io.nbdnetty.client.NbdClientConfig#debug()}, logger {@code io.nbdnetty.client}) and sends that logger to stderr;
 * {@link CliSupport#start} sets the debug flag of every handle while that logger logs at debug level.
 */
public final class VerboseOption {
    /** The logger the client logs its conversation to. */
    public static final String LOGGER = "io.nbdnetty.client";
    /** Held so that the configuration is not collected with a weakly referenced logger. */
    private static Logger configured;

    @Option(names = {"-v", "--verbose"},
            description = "Print the NBD conversation (options, replies, commands) on stderr, as LIBNBD_DEBUG=1 does.")
    public void verbose(boolean on) {
        if (on) {
            enable(System.err);
        }
    }

    /** Sends the client's debug log to {@code err}; once per JVM. */
    public static synchronized void enable(PrintStream err) {
        if (configured != null) {
            return;
        }
        InternalLoggerFactory.setDefaultFactory(JdkLoggerFactory.INSTANCE);
        Logger l = Logger.getLogger(LOGGER);
        l.setUseParentHandlers(false);
        l.setLevel(Level.FINE);
        l.addHandler(new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (isLoggable(r)) {
                    err.println("nbd: debug: " + r.getMessage());
                    err.flush();
                }
            }

            @Override
            public void flush() {
                err.flush();
            }

            @Override
            public void close() {
            }
        });
        configured = l;
    }

    /** Whether the client's debug log is on, so that handles should log their conversation. */
    public static boolean on() {
        return Logger.getLogger(LOGGER).isLoggable(Level.FINE);
    }
}
