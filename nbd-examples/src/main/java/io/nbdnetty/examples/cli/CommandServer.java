package io.nbdnetty.examples.cli;

import io.nbdnetty.client.internal.NbdCommandServer;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * nbdinfo's and nbdcopy's {@code [ CMD ARGS ]}: a server run for the command's duration. libnbd hands the server a
 * listening socket by systemd socket activation, which the JVM cannot do; the client's {@link NbdCommandServer}
 * runs it instead with each connection on its standard input and output. For {@code nbdkit}, {@code -s} (serve on
 * stdin/stdout) is added when missing, so the commands written for nbdinfo and nbdcopy work as they are. Each
 * connection gets its own server process, so a command server is used with one connection.
 */
public final class CommandServer implements AutoCloseable {
    private final NbdCommandServer server;

    private CommandServer(NbdCommandServer server) {
        this.server = server;
    }

    /**
     * Whether the arguments from {@code index} on start with a {@code [ CMD ARGS ]} group.
     *
     * @param args the positional arguments
     * @param index where to look
     * @return true if there is a {@code [}
     */
    public static boolean startsAt(List<String> args, int index) {
        return index < args.size() && args.get(index).equals("[");
    }

    /**
     * Returns the index just after the {@code ]} that closes the group starting at {@code index}.
     *
     * @param args the positional arguments
     * @param index the index of {@code [}
     * @return the index after {@code ]}
     * @throws IllegalArgumentException if there is no command or no {@code ]}
     */
    public static int end(List<String> args, int index) {
        int close = args.subList(index, args.size()).indexOf("]");
        if (close < 0) {
            throw new IllegalArgumentException("'[' without a matching ']'");
        }
        if (close == 1) {
            throw new IllegalArgumentException("'[ ]' needs a command between the brackets");
        }
        return index + close + 1;
    }

    /**
     * Starts the command between {@code [} at {@code index} and its {@code ]}, and waits until it can be reached.
     *
     * @param args the positional arguments
     * @param index the index of {@code [}
     * @return the running server; its {@link #uri()} reaches it
     * @throws IOException if socat or the command cannot be started
     */
    public static CommandServer start(List<String> args, int index) throws IOException {
        List<String> argv = new ArrayList<>(args.subList(index + 1, end(args, index) - 1));
        if (Path.of(argv.get(0)).getFileName().toString().equals("nbdkit") && !argv.contains("-s")
                && !argv.contains("--single")) {
            argv.add(1, "-s");
        }
        NbdCommandServer s = NbdCommandServer.start(argv);
        try {
            s.ready(Duration.ofSeconds(30)).get(35, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            s.close();
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IOException("the server command did not start: " + cause.getMessage(), cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            s.close();
            throw new IOException("interrupted while starting the server command", e);
        }
        return new CommandServer(s);
    }

    /**
     * Returns a URI that reaches the server.
     *
     * @return {@code nbd+unix:///?socket=PATH}
     */
    public String uri() {
        return server.uri();
    }

    /** Stops socat and the servers it runs, and removes the socket. */
    @Override
    public void close() {
        server.close();
    }
}
