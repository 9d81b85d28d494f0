package io.nbdnetty.examples.docs;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;

/** The library poms must not pull in what only the examples need (CHANGELOG.md, "Packaging notes"). */
class LibraryDependenciesTest {
    private static final List<String> EXAMPLE_ONLY = List.of("picocli", "jackson", "HdrHistogram", "jmh");

    @Test
    void libraryPomsHaveNoExampleDependencies() throws IOException {
        for (String module : List.of("nbd-codec", "nbd-client")) {
            String pom = Files.readString(DocSnippetsTest.root().resolve(module).resolve("pom.xml"));
            for (String artifact : EXAMPLE_ONLY) {
                assertFalse(pom.toLowerCase().contains(artifact.toLowerCase()), module + "/pom.xml mentions "
                        + artifact + ", which belongs in nbd-examples only");
            }
        }
    }
}
