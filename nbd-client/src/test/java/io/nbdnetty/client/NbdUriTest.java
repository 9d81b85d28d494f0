package io.nbdnetty.client;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The examples of uri.md, and the errors a user should see. */
class NbdUriTest {

    @ParameterizedTest(name = "{0} -> \"{1}\"")
    @CsvSource(delimiter = '|', value = {
        // uri.md, "NBD URI export name": the table of URIs and export names.
        "nbd://example.com/disk|disk",
        "nbd+unix:///disk?socket=sock|disk",
        "nbd://example.com/|''",
        "nbd://example.com|''",
        "nbd://example.com//disk|/disk",
        "nbd://example.com/hello%20world|hello world",
    })
    void exportNameIsThePathWithoutItsLeadingSlash(String uri, String export) {
        assertEquals(export, NbdUri.parse(uri).exportName());
    }

    @Test
    void tcpDefaultsToPort10809AndKeepsAGivenPort() {
        NbdUri u = NbdUri.parse("nbd://example.com/disk");
        assertEquals(NbdUri.Transport.TCP, u.transport());
        assertEquals("example.com", u.host());
        assertEquals(10809, u.port());
        assertFalse(u.tls());
        assertEquals(12345, NbdUri.parse("nbd://[::1]:12345/").port());
        assertEquals("::1", NbdUri.parse("nbd://[::1]:12345/").host());
    }

    @Test
    void unixSocketAndTlsSchemes() {
        NbdUri u = NbdUri.parse("nbds+unix:///e?socket=/tmp/s.sock&tls-certificates=/etc/pki&tls-verify-peer=0");
        assertEquals(NbdUri.Transport.UNIX, u.transport());
        assertTrue(u.tls());
        assertEquals(Path.of("/tmp/s.sock"), u.socket());
        assertNull(u.host());
        NbdClientConfig c = u.configure(NbdClientConfig.defaults());
        assertEquals(NbdTlsMode.REQUIRE, c.tls());
        assertEquals(Path.of("/etc/pki"), c.tlsCertificates());
        assertFalse(c.tlsVerifyPeer());
        assertEquals("e", c.exportName());
        assertEquals(NbdTlsMode.DISABLE, NbdUri.parse("nbd+unix:///?socket=s").configure(
                NbdClientConfig.defaults()).tls());
    }

    @Test
    void abstractSocketNameIsDecodedAndRefusedClearly() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NbdUri.parse("nbd+unix:///?socket=%00/abstract"));
        assertTrue(e.getMessage().contains("abstract namespace"), e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "http://example.com/|unknown scheme",
        "/just/a/path|no scheme",
        "nbd+unix:///disk|needs a socket=PATH",
        "nbd+unix://host/disk?socket=s|has no host",
        "nbd:///disk|no host",
        "nbd://h/?socket=s|only for nbd+unix",
        "nbd://h/?bogus=1|unknown query parameter 'bogus'",
        "nbds://h/?tls-psk-file=k|TLS-PSK is not supported",
        "nbds://h/?tls-type=anon|only x509",
        "nbds://h/?tls-verify-peer=maybe|must be 0 or 1",
        "nbd://h/?socket=a&socket=b|given twice",
    })
    void badUrisGiveAClearMessage(String uri, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NbdUri.parse(uri));
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @Test
    void experimentalParametersAreAllowed() {
        assertEquals("1", NbdUri.parse("nbd://h/?x-mine=1").query().get("x-mine"));
    }
}
