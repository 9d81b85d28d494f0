package io.nbdnetty.examples.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static io.nbdnetty.examples.cli.CliRun.nbd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The top-level command: subcommand names, and building only the subcommand a run names. */
class NbdCliTest {
    @Test
    void subcommandNamesAreTheirCommandNames() {
        for (Map.Entry<String, Supplier<Object>> e : NbdCli.SUBCOMMANDS.entrySet()) {
            Object command = e.getValue().get();
            assertEquals(e.getKey(), command.getClass().getAnnotation(CommandLine.Command.class).name());
        }
        assertEquals(List.copyOf(NbdCli.SUBCOMMANDS.keySet()),
                List.copyOf(NbdCli.commandLine().getSubcommands().keySet()));
    }

    @Test
    void findsTheSubcommandOfARun() {
        assertEquals("copy", NbdCli.subcommandIn("copy", "a", "b"));
        assertEquals("info", NbdCli.subcommandIn("--debug", "info", "nbd://x"));
        assertEquals("bench", NbdCli.subcommandIn("bench", "--help"));
        assertNull(NbdCli.subcommandIn());
        assertNull(NbdCli.subcommandIn("--help"));
        assertNull(NbdCli.subcommandIn("-V"));
        assertNull(NbdCli.subcommandIn("--", "copy"));
        assertNull(NbdCli.subcommandIn("cpy", "a", "b"));
    }

    @Test
    void aRunBuildsOnlyItsSubcommand() {
        CommandLine one = NbdCli.commandLine("copy");
        assertEquals(List.of("copy"), List.copyOf(one.getSubcommands().keySet()));
        assertEquals("nbd copy", one.getSubcommands().get("copy").getCommandSpec().qualifiedName());
    }

    @Test
    void helpAndUnknownSubcommandsStillSeeThemAll() {
        String help = nbd("--help").ok().out();
        for (String name : NbdCli.SUBCOMMANDS.keySet()) {
            assertTrue(help.contains(name), name + " missing from: " + help);
        }
        CliRun.Run unknown = nbd("cpy", "a", "b");
        assertEquals(1, unknown.code(), unknown.toString());
        assertTrue(unknown.err().contains("cpy"), unknown.err());
        assertTrue(unknown.err().contains("copy"), "a suggestion of the nearest name: " + unknown.err());
        CliRun.Run debug = nbd("--debug", "copy", "--help").ok();
        assertTrue(debug.out().contains("--connections"), debug.out());
    }
}
