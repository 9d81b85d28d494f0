package io.nbdnetty.client;

import io.nbdnetty.client.NbdEventLoops.Transport;
import io.netty.channel.ChannelException;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The message of a group that could not start its loops. The exception's shape is Netty's, as seen when
 * {@code nbd bench --threads 1000000} ran out of file descriptors: "failed to create a child event loop", caused by
 * "epoll_create1() failed: Too many open files".
 */
class NbdEventLoopsStartFailureTest {

    @Test
    void saysHowManyLoopsOfWhichTransportAndTheSystemsReasonWithoutTheSystemCall() {
        IllegalStateException netty = new IllegalStateException("failed to create a child event loop",
                new ChannelException("epoll_create1() failed: Too many open files"));
        assertEquals("cannot start 1000000 epoll event loops: Too many open files",
                NbdEventLoops.startFailure(Transport.EPOLL, 1000000, netty));
    }

    @Test
    void usesTheDeepestReasonAndTheSingularForOneLoop() {
        IllegalStateException netty = new IllegalStateException("failed to create a child event loop",
                new RuntimeException("wrapped", new IOException("Cannot allocate memory")));
        assertEquals("cannot start 1 nio event loop: Cannot allocate memory",
                NbdEventLoops.startFailure(Transport.NIO, 1, netty));
    }

    @Test
    void withoutAReasonSaysWhatFailed() {
        assertEquals("cannot start 2 epoll event loops",
                NbdEventLoops.startFailure(Transport.EPOLL, 2, new IllegalStateException("failed")));
    }
}
