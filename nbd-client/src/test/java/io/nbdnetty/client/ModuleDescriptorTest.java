package io.nbdnetty.client;

import io.nbdnetty.codec.NbdReplyDecoder;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.lang.module.Configuration;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The library's module descriptors: what they export, and that they resolve on a real module path against Netty's
 * own module descriptors (the suite itself runs on the class path, {@code useModulePath=false}).
 */
class ModuleDescriptorTest {
    private static Path location(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static ModuleDescriptor descriptor(Class<?> c, String name) throws Exception {
        ModuleReference r = ModuleFinder.of(location(c)).find(name).orElseThrow();
        return r.descriptor();
    }

    @Test
    void theClientExportsItsApiOnlyAndTheCodecItsOnePackage() throws Exception {
        ModuleDescriptor client = descriptor(NbdHandle.class, "io.nbdnetty.client");
        assertEquals(Set.of("io.nbdnetty.client", "io.nbdnetty.client.copy", "io.nbdnetty.client.backup",
                "io.nbdnetty.client.device", "io.nbdnetty.client.stream"),
                client.exports().stream().map(ModuleDescriptor.Exports::source).collect(Collectors.toSet()));
        assertTrue(client.packages().contains("io.nbdnetty.client.internal"));
        assertTrue(client.exports().stream().noneMatch(ModuleDescriptor.Exports::isQualified));
        ModuleDescriptor codec = descriptor(NbdReplyDecoder.class, "io.nbdnetty.codec");
        assertEquals(Set.of("io.nbdnetty.codec"),
                codec.exports().stream().map(ModuleDescriptor.Exports::source).collect(Collectors.toSet()));
    }

    @Test
    void bothModulesResolveAndLoadOnAModulePathOfNettysJars() throws Exception {
        List<Path> path = new ArrayList<>(List.of(location(NbdHandle.class), location(NbdReplyDecoder.class)));
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String file = Path.of(entry).getFileName().toString();
            // Netty's jars as an application would put them there; the static BoringSSL jar's automatic name would
            // end in a keyword ("static"), so an application names it on the class path instead (it is optional).
            if (file.startsWith("netty-") && file.endsWith(".jar") && !file.contains("boringssl-static")) {
                path.add(Path.of(entry));
            }
        }
        ModuleFinder finder = ModuleFinder.of(path.toArray(Path[]::new));
        Configuration cf = ModuleLayer.boot().configuration().resolve(finder, ModuleFinder.of(),
                Set.of("io.nbdnetty.client"));
        ModuleLayer layer = ModuleLayer.boot().defineModulesWithOneLoader(cf, ClassLoader.getPlatformClassLoader());
        Module client = layer.findModule("io.nbdnetty.client").orElseThrow();
        assertTrue(client.isExported("io.nbdnetty.client"));
        assertFalse(client.isExported("io.nbdnetty.client.internal"));
        // A class of the API loads and runs from the layer, with Netty's classes from their modules.
        Class<?> config = Class.forName(client, "io.nbdnetty.client.NbdClientConfig");
        Method builder = config.getMethod("builder");
        Object built = builder.getReturnType().getMethod("build").invoke(builder.invoke(null));
        assertEquals(client, built.getClass().getModule());
        // Netty's modules are its own descriptors, not automatic ones made from jar names.
        assertFalse(layer.findModule("io.netty.handler").orElseThrow().getDescriptor().isAutomatic());
        assertFalse(layer.findModule("io.netty.transport.classes.epoll").orElseThrow().getDescriptor().isAutomatic());
    }
}
