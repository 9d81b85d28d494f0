package io.nbdnetty.examples.cli;

import io.nbdnetty.client.NbdClientConfig;
import picocli.CommandLine.Option;

import java.time.Duration;

/**
 * The {@code --timeout=SECONDS} option of the commands that talk to servers ({@code info}, {@code copy}, {@code
 * bench}; {@code backup}'s {@code --timeout} is its overall deadline, and it keeps the library's 60 s), a picocli
 * mixin: how long a server may send nothing while requests wait for it, before the
 * command fails with "no reply from the server for 60 s" ({@link NbdClientConfig#stallTimeout()}). Any byte from the
 * server counts as progress, so a slow link does not trip it. Given, it also bounds the handshake
 * ({@link NbdClientConfig#handshakeTimeout()}, 30 s by default).
 */
public final class TimeoutOption {
    @Option(names = "--timeout", paramLabel = "SECONDS",
            description = "Fail when a server sends nothing for this many seconds while requests wait for it "
                    + "(default: 60; 0 waits for ever). Any byte received counts, so slow links are fine. Also bounds "
                    + "the handshake (default: 30).")
    Long seconds;

    /**
     * Applies the option (or the library's default) to a configuration.
     *
     * @param b the builder
     * @return the builder
     */
    public NbdClientConfig.Builder apply(NbdClientConfig.Builder b) {
        if (seconds != null) {
            if (seconds < 0) {
                throw new IllegalArgumentException("--timeout must not be negative: " + seconds);
            }
            // The handshake too: a user who allows a server 3 s of silence does not wait 30 s for its greeting.
            b.stallTimeout(Duration.ofSeconds(seconds)).handshakeTimeout(Duration.ofSeconds(seconds));
        }
        return b;
    }
}
