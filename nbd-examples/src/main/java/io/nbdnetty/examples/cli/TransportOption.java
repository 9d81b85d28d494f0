package io.nbdnetty.examples.cli;

import io.nbdnetty.client.NbdEventLoops;
import io.nbdnetty.client.NbdEventLoops.Transport;
import io.nbdnetty.examples.cli.copy.CopyCommand;
import io.netty.channel.EventLoopGroup;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;

/**
 * The {@code --transport=epoll|io_uring|nio} and {@code --busy-poll=USEC} options of the client commands ({@code
 * bench}, {@code copy}, {@code info}), a picocli mixin: which Netty transport the command's event loops use, and
 * whether they busy-poll ({@link NbdEventLoops#newGroup(Transport, int, Duration)}). The default transport is the
 * library's ({@link NbdEventLoops#defaultTransport()}: epoll where available, else NIO). A transport that is not
 * available here falls back to the default, with a one-line warning on stderr.
 */
public final class TransportOption {
    @Option(names = "--transport", paramLabel = "NAME", converter = Converter.class,
            description = "Netty transport: epoll, io_uring or nio (default: epoll where available, else nio). "
                    + "One not available here falls back to the default, with a warning.")
    Transport requested;

    @Option(names = "--busy-poll", paramLabel = "USEC",
            description = "Let each event loop poll its sockets for up to this many microseconds before it sleeps "
                    + "while replies are awaited, unless 8 or more small requests are (lower latency for CPU; epoll "
                    + "and nio; default: the library's "
                    + TransportOption.LIBRARY_DEFAULT_MICROS + ", and for nbd copy "
                    + CopyCommand.DEFAULT_BUSY_POLL_MICROS + " when its busy threads leave a core free; 0 turns it "
                    + "off).")
    Long busyPollMicros;

    @CommandLine.Spec(CommandLine.Spec.Target.MIXEE)
    CommandLine.Model.CommandSpec mixee;

    private Transport used;
    private long busyPollUsed;

    /**
     * Creates the command's event loop group with the requested transport, or the default one (after a warning on
     * stderr) when the requested one is not available here.
     *
     * @param threads how many event loop threads
     * @return the group; shut it down with {@link CliSupport#shutdown(EventLoopGroup)}
     */
    public EventLoopGroup newGroup(int threads) {
        return newGroup(threads, LIBRARY_DEFAULT_MICROS);
    }

    /**
     * The library's default busy-poll window ({@link NbdEventLoops#DEFAULT_BUSY_POLL}), in microseconds: a constant
     * for the option's help (a test checks that the two agree).
     */
    public static final long LIBRARY_DEFAULT_MICROS = 5;

    /**
     * The same, with the command's own default for {@code --busy-poll} when it was not given; the default applies
     * only on a transport that can busy-poll (not io_uring).
     *
     * @param threads how many event loop threads
     * @param defaultBusyPollMicros the busy-poll window when {@code --busy-poll} was not given, in microseconds
     * @return the group; shut it down with {@link CliSupport#shutdown(EventLoopGroup)}
     */
    public EventLoopGroup newGroup(int threads, long defaultBusyPollMicros) {
        Transport t = requested != null ? requested : NbdEventLoops.defaultTransport();
        if (!t.isAvailable()) {
            Transport fallback = NbdEventLoops.defaultTransport();
            Throwable cause = t.unavailabilityCause().orElseThrow();
            PrintWriter err = mixee.commandLine().getErr();
            err.println(mixee.qualifiedName() + ": warning: the " + name(t) + " transport is not available here ("
                    + (cause.getMessage() != null ? cause.getMessage() : cause) + "); using " + name(fallback));
            err.flush();
            t = fallback;
        }
        long poll;
        if (busyPollMicros == null) {
            poll = t == Transport.IO_URING ? 0 : defaultBusyPollMicros;
        } else {
            poll = busyPollMicros;
            if (poll < 0 || poll > 1_000_000) {
                throw new CommandLine.ParameterException(mixee.commandLine(),
                        "--busy-poll must be between 0 and 1000000 microseconds: " + poll);
            }
            if (poll > 0 && t == Transport.IO_URING) {
                throw new CommandLine.ParameterException(mixee.commandLine(),
                        "--busy-poll works with the epoll and nio transports, not io_uring");
            }
        }
        used = t;
        busyPollUsed = poll;
        return NbdEventLoops.newGroup(t, threads, Duration.ofNanos(poll * 1000));
    }

    /**
     * The transport {@link #newGroup(int)} used.
     *
     * @return the transport, or null before {@link #newGroup(int)}
     */
    public Transport used() {
        return used;
    }

    /**
     * The busy-poll window {@link #newGroup(int, long)} used, given or by default.
     *
     * @return microseconds; 0 for none
     */
    public long busyPollUsed() {
        return busyPollUsed;
    }

    /**
     * The command-line name of a transport.
     *
     * @param t the transport
     * @return {@code epoll}, {@code io_uring} or {@code nio}
     */
    public static String name(Transport t) {
        return t.name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code epoll}, {@code io_uring} or {@code nio} (in any case). */
    public static final class Converter implements CommandLine.ITypeConverter<Transport> {
        @Override
        public Transport convert(String value) {
            for (Transport t : Transport.values()) {
                if (name(t).equalsIgnoreCase(value)) {
                    return t;
                }
            }
            throw new CommandLine.TypeConversionException("'" + value + "' is not a transport: epoll, io_uring or "
                    + "nio");
        }
    }
}
