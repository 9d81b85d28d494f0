package io.nbdnetty.examples.cli.info;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdUri;
import io.nbdnetty.examples.cli.CliRun;
import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import static io.nbdnetty.examples.cli.CliRun.nbd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code nbd+vsock} URIs on the command line go through the library's vsock transport. */
class VsockCliTest {

    @Test
    void aVsockUriIsDialledAndItsFailureIsOneLine() {
        Assumptions.assumeTrue(Epoll.isAvailable(), "epoll is not available here");
        // A CID no machine has: the connect is really attempted and fails (how depends on the kernel), in words.
        CliRun.Run r = nbd("info", "--size", "nbd+vsock://2147483632:7/");
        assertEquals(1, r.code(), r.toString());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("nbd info: cannot connect to vsock CID 2147483632 port 7 "
                + "(nbd+vsock://2147483632:7/): "), r.err());
        assertFalse(r.err().contains("not supported"), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
        assertEquals("", r.out());
    }

    @Test
    void infoPrintsAVsockUriAsVsock() {
        // nbd info's "uri" (libnbd's nbd_get_uri) keeps the vsock scheme, CID and port.
        try (NbdHandle h = NbdHandle.create(NbdClientConfig.builder().exportName("disk").build())) {
            assertEquals("nbd+vsock://3:4294967295/disk",
                    UriText.uriOf(h, NbdUri.parse("nbd+vsock://3:4294967295/disk")));
            assertEquals("nbd+vsock://2:10809/disk", UriText.uriOf(h, NbdUri.parse("nbd+vsock:///disk")));
        }
    }

    @Test
    void aBadCidIsRefusedBeforeDialling() {
        CliRun.Run r = nbd("info", "nbd+vsock://hypervisor/");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().startsWith("nbd info: ") && r.err().contains("vsock CID must be a number"), r.err());
    }
}
