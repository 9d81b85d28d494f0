package io.nbdnetty.testing.peers;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.TestAbortedException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Interop}: a missing peer skips the test in auto mode and fails it in required mode. */
class InteropTest {
    private String savedMode;
    private String savedPath;

    @TempDir
    Path emptyDir;

    @BeforeEach
    void save() {
        savedMode = System.getProperty(Interop.MODE_PROPERTY);
        savedPath = System.getProperty(Interop.PATH_PROPERTY);
    }

    @AfterEach
    void restore() {
        restore(Interop.MODE_PROPERTY, savedMode);
        restore(Interop.PATH_PROPERTY, savedPath);
        System.clearProperty(Interop.QEMU10_PROPERTY);
    }

    private static void restore(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }

    private void pretendNothingInstalled(String mode) {
        System.setProperty(Interop.MODE_PROPERTY, mode);
        System.setProperty(Interop.PATH_PROPERTY, emptyDir.toString());
    }

    @Test
    void autoModeSkipsWhenCommandMissing() {
        pretendNothingInstalled("auto");
        TestAbortedException e = assertThrows(TestAbortedException.class, () -> Interop.requireCommand("nbdkit"));
        assertTrue(e.getMessage().contains("nbdkit not installed: skipping interop test (run with "
                + "-Dnbd.interop=required to fail instead)"), e.getMessage());
    }

    @Test
    void requiredModeFailsWhenCommandMissing() {
        pretendNothingInstalled("required");
        AssertionError e = assertThrows(AssertionError.class, () -> Interop.requireCommand("nbdkit"));
        assertTrue(e.getMessage().startsWith("nbdkit not installed"), e.getMessage());
    }

    @Test
    void serversAndClientsSkipWhenPeersMissing() {
        pretendNothingInstalled("auto");
        assertThrows(TestAbortedException.class, () -> PeerServer.nbdkit("memory", "size=1M").start());
        assertThrows(TestAbortedException.class, () -> PeerServer.nbdkitStdio("memory", "size=1M").start());
        assertThrows(TestAbortedException.class,
                () -> PeerServer.qemuNbd(emptyDir.resolve("x.qcow2"), "qcow2", "x"));
        assertThrows(TestAbortedException.class, () -> PeerServer.nbdServer(emptyDir.resolve("x.img"), "x"));
        assertThrows(TestAbortedException.class, () -> PeerClients.nbdinfoJson("nbd+unix:///?socket=/nowhere"));
    }

    @Test
    void qemu10IsLookedForInItsOwnDirectory() {
        System.setProperty(Interop.MODE_PROPERTY, "auto");
        System.setProperty(Interop.QEMU10_PROPERTY, emptyDir.toString());
        TestAbortedException e = assertThrows(TestAbortedException.class, () -> Interop.requireQemu10("qemu-nbd"));
        assertTrue(e.getMessage().contains("qemu 10 qemu-nbd not found at " + emptyDir.resolve("qemu-nbd")),
                e.getMessage());
        System.setProperty(Interop.MODE_PROPERTY, "required");
        assertThrows(AssertionError.class, () -> PeerClients.qemu10("qemu-img", "--version"));
    }

    @Test
    void systemQemuIsNotTakenForQemu10() throws Exception {
        // The system's qemu-img (7.2 here) in the qemu 10 directory must be refused by its version.
        Path qemuImg = Interop.requireCommand("qemu-img");
        Files.createSymbolicLink(emptyDir.resolve("qemu-img"), qemuImg);
        System.setProperty(Interop.QEMU10_PROPERTY, emptyDir.toString());
        System.setProperty(Interop.MODE_PROPERTY, "auto");
        String version = PeerClients.run(Duration.ofSeconds(10), "qemu-img", "--version").stdout();
        Assumptions.assumeFalse(version.matches("(?s).*version (1\\d|[2-9]\\d)\\..*"),
                "the system's qemu-img is already 10 or newer: " + version);
        TestAbortedException e = assertThrows(TestAbortedException.class, () -> Interop.requireQemu10("qemu-img"));
        assertTrue(e.getMessage().contains("is not qemu 10 or newer"), e.getMessage());
    }

    @Test
    void systemQemuNbdIsNotTakenForQemu10() throws Exception {
        // qemu-nbd prints its version as "qemu-nbd 7.2.x", without the word "version".
        Path qemuNbd = Interop.requireCommand("qemu-nbd");
        Files.createSymbolicLink(emptyDir.resolve("qemu-nbd"), qemuNbd);
        System.setProperty(Interop.QEMU10_PROPERTY, emptyDir.toString());
        System.setProperty(Interop.MODE_PROPERTY, "auto");
        String version = PeerClients.run(Duration.ofSeconds(10), "qemu-nbd", "--version").stdout();
        Assumptions.assumeFalse(version.matches("(?s).*qemu-nbd (1\\d|[2-9]\\d)\\..*"),
                "the system's qemu-nbd is already 10 or newer: " + version);
        TestAbortedException e = assertThrows(TestAbortedException.class, () -> Interop.requireQemu10("qemu-nbd"));
        assertTrue(e.getMessage().contains("is not qemu 10 or newer"), e.getMessage());
    }

    @Test
    void qemu10QemuNbdIsRecognisedByItsVersionLine() {
        // The installed qemu 10's qemu-nbd says "qemu-nbd 10.0.2 (...)"; it must be taken.
        Path dir = Path.of(Interop.QEMU10_DEFAULT_DIR);
        Assumptions.assumeTrue(Files.isExecutable(dir.resolve("qemu-nbd")), "qemu 10 is not installed here");
        System.setProperty(Interop.QEMU10_PROPERTY, dir.toString());
        System.setProperty(Interop.MODE_PROPERTY, "required");
        assertEquals(dir.resolve("qemu-nbd"), Interop.requireQemu10("qemu-nbd"));
    }

    @Test
    void missingNbdkitPluginOrFilterSkips() {
        System.setProperty(Interop.MODE_PROPERTY, "auto");
        // Skips here too when nbdkit itself is missing (auto mode), which is the right outcome either way.
        TestAbortedException e = assertThrows(TestAbortedException.class,
                () -> Interop.requireNbdkitPlugin("no-such-plugin"));
        assertTrue(e.getMessage().contains("not installed"), e.getMessage());
        assertThrows(TestAbortedException.class, () -> Interop.requireNbdkitFilter("no-such-filter"));
    }

    @Test
    void modeIsAutoByDefaultAndRejectsTypos() {
        System.clearProperty(Interop.MODE_PROPERTY);
        assertEquals(Interop.Mode.AUTO, Interop.mode());
        System.setProperty(Interop.MODE_PROPERTY, "REQUIRED");
        assertEquals(Interop.Mode.REQUIRED, Interop.mode());
        System.setProperty(Interop.MODE_PROPERTY, "requierd");
        assertThrows(IllegalArgumentException.class, Interop::mode);
    }
}
