package io.nbdnetty.examples.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.io.PrintWriter;
import java.util.List;
import java.util.function.Supplier;

/**
 * The {@code nbd} command-line tool: a picocli top-level command whose subcommands are listed in {@link
 * #SUBCOMMANDS}. Exit code 0 on success, 1 on any error; errors are one line on stderr ({@code nbd: message}), with
 * the stack trace only under {@code --debug}.
 */
@Command(name = "nbd", mixinStandardHelpOptions = true, versionProvider = NbdCli.Version.class,
        description = "NBD (Network Block Device) tools built on nbd-netty.")
public final class NbdCli implements Runnable {
    /** The version shown when the jar manifest has none. */
    public static final String VERSION = "0.1.0-SNAPSHOT";

    /** Every subcommand, in the order {@code nbd --help} lists them. Add new ones here. */
    static final List<Supplier<Object>> SUBCOMMANDS = List.of(InfoCommand::new, CopyCommand::new, BenchCommand::new,
            BackupCommand::new, DemoCommand::new, ServeCommand::new);

    @Option(names = "--debug", scope = ScopeType.INHERIT, description = "Print stack traces of errors.")
    boolean debug;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /**
     * Runs the tool and exits with its exit code.
     *
     * @param args the command line
     */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * Runs the tool without exiting.
     *
     * @param args the command line
     * @return the exit code: 0 on success, 1 on error
     */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    /**
     * Builds the command line with every subcommand and the error handling.
     *
     * @return a fresh command line
     */
    public static CommandLine commandLine() {
        CommandLine cmd = new CommandLine(new NbdCli());
        for (Supplier<Object> s : SUBCOMMANDS) {
            cmd.addSubcommand(s.get());
        }
        cmd.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            PrintWriter err = c.getErr();
            err.println(c.getCommandSpec().qualifiedName() + ": " + ex.getMessage());
            err.println("Try '" + c.getCommandSpec().qualifiedName() + " --help' for more information.");
            err.flush();
            return 1;
        });
        cmd.setExecutionExceptionHandler((ex, c, parseResult) -> {
            PrintWriter err = c.getErr();
            String message = ex.getMessage() != null ? ex.getMessage() : ex.toString();
            err.println(c.getCommandSpec().qualifiedName() + ": " + message);
            if (isDebug(c)) {
                ex.printStackTrace(err);
            }
            err.flush();
            return 1;
        });
        return cmd;
    }

    private static boolean isDebug(CommandLine c) {
        for (CommandLine x = c; x != null; x = x.getParent()) {
            CommandLine.Model.OptionSpec o = x.getCommandSpec().findOption("--debug");
            if (o != null && Boolean.TRUE.equals(o.getValue())) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void run() {
        // "nbd" alone: show what there is.
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Reads the version from the jar manifest, falling back to {@link #VERSION}. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = NbdCli.class.getPackage().getImplementationVersion();
            return new String[] {"nbd " + (v != null ? v : VERSION)};
        }
    }
}
