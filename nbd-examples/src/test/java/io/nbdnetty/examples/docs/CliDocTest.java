package io.nbdnetty.examples.docs;

import io.nbdnetty.examples.cli.NbdCli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * docs/cli.md: every {@code nbd ...} line in its shell blocks must parse with the real command line (options and
 * arguments exist), and {@code nbd demo} runs. Subcommands being written on other branches are in {@link
 * #PENDING_COMMANDS}; the test fails once one of them is registered, so the list cannot go stale.
 */
@Timeout(120)
class CliDocTest {
    /** Documented from their intended usage; not registered in {@link NbdCli} on this branch yet. */
    static final Set<String> PENDING_COMMANDS = Set.of();

    static List<List<String>> commandLines() throws IOException {
        List<String> lines = Files.readAllLines(DocSnippetsTest.root().resolve("docs/cli.md"));
        List<List<String>> out = new ArrayList<>();
        boolean inShell = false;
        for (String line : lines) {
            String s = line.strip();
            if (s.startsWith("```")) {
                inShell = !inShell && s.equals("```sh");
                continue;
            }
            if (inShell && s.startsWith("nbd ")) {
                int comment = s.indexOf(" #");
                String command = comment >= 0 ? s.substring(0, comment) : s;
                out.add(Arrays.asList(command.strip().split("\\s+")));
            }
        }
        return out;
    }

    @Test
    void everyDocumentedCommandLineParses() throws IOException {
        List<List<String>> commands = commandLines();
        assertFalse(commands.isEmpty(), "no nbd command lines in docs/cli.md");
        for (List<String> words : commands) {
            CommandLine cli = NbdCli.commandLine();
            String sub = words.size() > 1 ? words.get(1) : "";
            if (!cli.getSubcommands().containsKey(sub)) {
                if (!PENDING_COMMANDS.contains(sub)) {
                    fail("docs/cli.md: nbd " + sub + " is not a subcommand: " + String.join(" ", words));
                }
                continue;
            }
            try {
                cli.parseArgs(words.subList(1, words.size()).toArray(String[]::new));
            } catch (CommandLine.ParameterException e) {
                fail("docs/cli.md: " + String.join(" ", words) + ": " + e.getMessage());
            }
        }
        for (String pending : PENDING_COMMANDS) {
            assertFalse(NbdCli.commandLine().getSubcommands().containsKey(pending),
                    "nbd " + pending + " exists now: remove it from PENDING_COMMANDS and check docs/cli.md");
        }
    }

    @Test
    void demoRuns() {
        assertEquals(0, NbdCli.run("demo", "--size", "16M"));
    }
}
