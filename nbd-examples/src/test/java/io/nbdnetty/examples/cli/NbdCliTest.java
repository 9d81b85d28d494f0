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

    @Test
    void noSubcommandPrintsUsageOnStderrAndFails() {
        CliRun.Run r = nbd();
        assertEquals(1, r.code(), r.toString());
        assertEquals("", r.out());
        assertTrue(r.err().startsWith("Usage: nbd"), r.err());
        for (String name : NbdCli.SUBCOMMANDS.keySet()) {
            assertTrue(r.err().contains(name), name + " missing from: " + r.err());
        }
    }

    @Test
    void copyWithOneArgumentGetsTheSameMessageAsWithThree() {
        for (String[] args : List.of(new String[] {"copy"}, new String[] {"copy", "x"},
                new String[] {"copy", "x", "y", "z"})) {
            CliRun.Run r = nbd(args);
            assertEquals(1, r.code(), r.toString());
            String first = r.err().lines().findFirst().orElse("");
            assertTrue(first.startsWith("nbd copy: expected SOURCE and DESTINATION, got "), r.err());
        }
        String help = nbd("copy", "--help").ok().out();
        String synopsis = help.substring(0, help.indexOf("Copy to and from"));
        assertEquals(1, synopsis.split("SOURCE DESTINATION", -1).length - 1, "the synopsis names them once: "
                + synopsis);
    }

    /** Every URI written in a command's help (its description, footer and option texts) is printed whole. */
    @Test
    void urisInHelpAreNeverWrapped() {
        java.util.regex.Pattern uri = java.util.regex.Pattern.compile("nbds?(?:\\+unix)?://[^\\s\"]+");
        for (String name : NbdCli.SUBCOMMANDS.keySet()) {
            CommandLine c = NbdCli.commandLine(name).getSubcommands().get(name);
            StringBuilder texts = new StringBuilder();
            CommandLine.Model.CommandSpec spec = c.getCommandSpec();
            texts.append(String.join("\n", spec.usageMessage().description())).append('\n')
                    .append(String.join("\n", spec.usageMessage().footer())).append('\n');
            spec.options().forEach(o -> texts.append(String.join(" ", o.description())).append('\n'));
            spec.positionalParameters().forEach(p -> texts.append(String.join(" ", p.description())).append('\n'));
            String help = nbd(name, "--help").ok().out();
            java.util.regex.Matcher m = uri.matcher(texts);
            while (m.find()) {
                String u = m.group().replaceAll("[.,;:)]+$", "");
                assertTrue(help.contains(u), "nbd " + name + " --help breaks " + u + ":\n" + help);
            }
        }
    }

    @Test
    void infoAcceptsNbdinfosColourOptions() throws Exception {
        for (String opt : List.of("--color", "--colour", "--no-color", "--no-colour")) {
            CliRun.Run r = nbd("info", opt, "nbd+unix:///?socket=/nonexistent/nbd-netty-test.sock");
            // Parsed: the failure is the connection's, not an unknown option.
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.err().startsWith("nbd info: cannot connect to "), opt + ": " + r.err());
        }
    }

    /** -v prints the conversation on stderr (in a child JVM: it sets up the process's logging). */
    @Test
    void verboseInfoPrintsTheConversationOnStderr(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        try (io.nbdnetty.testing.peers.PeerServer server =
                     io.nbdnetty.testing.peers.PeerServer.nbdkit("memory", "size=1M").start()) {
            java.nio.file.Path out = dir.resolve("out");
            java.nio.file.Path err = dir.resolve("err");
            assertEquals(0, CliRun.child(null, out, err, "info", "-v", "--size", server.uri()));
            assertEquals("1048576\n", java.nio.file.Files.readString(out));
            List<String> lines = java.nio.file.Files.readAllLines(err);
            assertTrue(lines.stream().allMatch(l -> l.startsWith("nbd: debug: ")), String.join("\n", lines));
            assertTrue(lines.stream().anyMatch(l -> l.contains("send") && l.contains("NBD_OPT_GO")), lines.toString());
            assertTrue(lines.stream().anyMatch(l -> l.contains("recv") && l.contains("NBD_OPT_GO")), lines.toString());
            // Without -v: nothing on stderr.
            assertEquals(0, CliRun.child(null, out, err, "info", "--size", server.uri()));
            assertEquals("", java.nio.file.Files.readString(err));
        }
    }
}
