package io.nbdnetty.examples.docs;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Keeps the documentation and the compiled code from drifting apart.
 *
 * <p>In README.md and docs/*.md, every fenced {@code java} block must be preceded by a marker {@code <!-- snippet:
 * ClassName#NAME -->} naming a region {@code // tag::NAME[]} ... {@code // end::NAME[]} of a test class in this
 * package, and must equal that region (lines compared after removing their common indentation and trailing blanks).
 * The doc test classes run the regions against real servers, so every snippet in the docs is compiled and run. Every
 * tagged region must be shown somewhere. Also: README.md starts with {@link #README_COMMANDS}, and every relative
 * link in the docs points at a file that exists.
 */
class DocSnippetsTest {
    /** The first two commands of README.md, exactly. */
    static final List<String> README_COMMANDS = List.of(
            "mvn -B -q package -DskipTests && java -jar nbd-examples/target/nbd.jar demo",
            "mvn -B verify");

    /**
     * Link targets written on other branches that are not merged into this one yet. Remove each entry once the file
     * exists here; the test fails on a listed file that exists, so the list cannot go stale.
     */
    static final Set<String> PENDING_FILES = Set.of();

    private static final Pattern MARKER =
            Pattern.compile("<!--\\s*snippet:\\s*([A-Za-z0-9_]+)#([A-Za-z0-9_-]+)\\s*-->");
    private static final Pattern TAG = Pattern.compile("^\\s*// tag::([A-Za-z0-9_-]+)\\[]\\s*$");
    private static final Pattern END = Pattern.compile("^\\s*// end::([A-Za-z0-9_-]+)\\[]\\s*$");
    private static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");

    static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !(Files.exists(p.resolve("nbd-client")) && Files.exists(p.resolve("pom.xml")))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the project root above " + Path.of("").toAbsolutePath());
        }
        return p;
    }

    static List<Path> documents() throws IOException {
        Path root = root();
        List<Path> docs = new ArrayList<>();
        docs.add(root.resolve("README.md"));
        try (Stream<Path> s = Files.list(root.resolve("docs"))) {
            s.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
        }
        return docs;
    }

    private static Path testSources() {
        return root().resolve("nbd-examples/src/test/java/io/nbdnetty/examples/docs");
    }

    /** Every tagged region of a class, by name. */
    static Map<String, List<String>> regions(String className) throws IOException {
        Path source = testSources().resolve(className + ".java");
        if (!Files.exists(source)) {
            fail("no doc test class " + source);
        }
        Map<String, List<String>> out = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(source);
        String open = null;
        List<String> body = null;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            Matcher t = TAG.matcher(line);
            Matcher e = END.matcher(line);
            if (t.matches()) {
                assertTrue(open == null, source + ":" + (i + 1) + ": tag " + t.group(1) + " inside tag " + open);
                open = t.group(1);
                body = new ArrayList<>();
            } else if (e.matches()) {
                assertEquals(open, e.group(1), source + ":" + (i + 1) + ": end tag does not match");
                assertTrue(out.put(open, dedent(body)) == null, source + ": tag " + open + " used twice");
                open = null;
            } else if (open != null) {
                body.add(line);
            }
        }
        assertTrue(open == null, source + ": tag " + open + " never ends");
        return out;
    }

    /** Strips trailing blanks and the indentation all non-blank lines share. */
    static List<String> dedent(List<String> lines) {
        int common = Integer.MAX_VALUE;
        for (String l : lines) {
            if (!l.isBlank()) {
                common = Math.min(common, l.length() - l.stripLeading().length());
            }
        }
        List<String> out = new ArrayList<>();
        for (String l : lines) {
            out.add(l.isBlank() ? "" : l.substring(common).stripTrailing());
        }
        return out;
    }

    /** One snippet marker in a document with the java block that follows it. */
    record Snippet(Path doc, int line, String className, String tag, List<String> code) {
    }

    static List<Snippet> snippets(Path doc) throws IOException {
        List<String> lines = Files.readAllLines(doc);
        List<Snippet> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            Matcher m = MARKER.matcher(line);
            if (line.startsWith("```java")) {
                boolean marked = i > 0 && MARKER.matcher(lines.get(i - 1).strip()).matches();
                assertTrue(marked, doc + ":" + (i + 1) + ": a java block without a <!-- snippet: Class#TAG --> "
                        + "marker on the line before it; put the code in a doc test class instead");
            }
            if (!m.matches()) {
                continue;
            }
            assertTrue(i + 1 < lines.size() && lines.get(i + 1).strip().equals("```java"),
                    doc + ":" + (i + 1) + ": a snippet marker must be followed at once by a ```java block");
            List<String> code = new ArrayList<>();
            int j = i + 2;
            while (j < lines.size() && !lines.get(j).strip().equals("```")) {
                code.add(lines.get(j));
                j++;
            }
            assertTrue(j < lines.size(), doc + ":" + (i + 1) + ": the java block never ends");
            out.add(new Snippet(doc, i + 1, m.group(1), m.group(2), dedent(code)));
        }
        return out;
    }

    @Test
    void everySnippetEqualsItsTaggedRegion() throws IOException {
        Set<String> shown = new HashSet<>();
        int count = 0;
        for (Path doc : documents()) {
            for (Snippet s : snippets(doc)) {
                Map<String, List<String>> regions = regions(s.className());
                List<String> region = regions.get(s.tag());
                if (region == null) {
                    fail(s.doc() + ":" + s.line() + ": " + s.className() + " has no region " + s.tag()
                            + " (it has " + regions.keySet() + ")");
                }
                assertEquals(String.join("\n", region), String.join("\n", s.code()), s.doc() + ":" + s.line()
                        + ": the block differs from " + s.className() + "#" + s.tag()
                        + "; copy the region into the document");
                shown.add(s.className() + "#" + s.tag());
                count++;
            }
        }
        assertTrue(count > 0, "no snippets found");
        Set<String> unshown = new TreeSet<>();
        try (Stream<Path> s = Files.list(testSources())) {
            for (Path p : s.filter(f -> f.getFileName().toString().endsWith("DocTest.java")).toList()) {
                String name = p.getFileName().toString().replace(".java", "");
                for (String tag : regions(name).keySet()) {
                    if (!shown.contains(name + "#" + tag)) {
                        unshown.add(name + "#" + tag);
                    }
                }
            }
        }
        assertEquals(Set.of(), unshown, "tagged regions no document shows");
    }

    @Test
    void readmeStartsWithTheTwoCommands() throws IOException {
        List<String> lines = Files.readAllLines(root().resolve("README.md"));
        int fence = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("```")) {
                fence = i;
                break;
            }
        }
        assertTrue(fence >= 0, "README.md has no code block");
        assertEquals("```sh", lines.get(fence).strip(), "README.md's first block is a shell block");
        assertEquals(README_COMMANDS, lines.subList(fence + 1, fence + 1 + README_COMMANDS.size()),
                "README.md's first two commands");
        assertEquals("```", lines.get(fence + 1 + README_COMMANDS.size()).strip(),
                "README.md's first block holds exactly the two commands");
    }

    @Test
    void relativeLinksPointAtFiles() throws IOException {
        Path root = root();
        List<String> broken = new ArrayList<>();
        for (Path doc : documents()) {
            List<String> lines = Files.readAllLines(doc);
            for (int i = 0; i < lines.size(); i++) {
                Matcher m = LINK.matcher(lines.get(i));
                while (m.find()) {
                    String target = m.group(1);
                    if (target.matches("^[a-zA-Z][a-zA-Z0-9+.-]*:.*") || target.startsWith("#")) {
                        continue; // https:, mailto:, an anchor in the same page
                    }
                    String file = target.replaceAll("#.*$", "");
                    Path resolved = doc.getParent().resolve(file).normalize();
                    String relative = root.relativize(resolved).toString();
                    if (!Files.exists(resolved) && !PENDING_FILES.contains(relative)) {
                        broken.add(root.relativize(doc) + ":" + (i + 1) + ": " + target);
                    }
                }
            }
        }
        assertEquals(List.of(), broken, "relative links to files that do not exist");
        for (String pending : PENDING_FILES) {
            assertTrue(!Files.exists(root.resolve(pending)), pending + " exists now: remove it from PENDING_FILES");
        }
    }
}
