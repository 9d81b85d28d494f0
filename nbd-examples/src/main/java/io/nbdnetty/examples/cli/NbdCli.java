package io.nbdnetty.examples.cli;

import io.nbdnetty.examples.cli.copy.CopyCommand;
import io.nbdnetty.examples.cli.info.InfoCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.io.PrintWriter;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The {@code nbd} command-line tool: a picocli top-level command whose subcommands are listed in {@link
 * #SUBCOMMANDS}. Exit code 0 on success, 1 on any error; errors are one line on stderr ({@code nbd: message}), with
 * the stack trace only under {@code --debug}.
 */
@Command(name = "nbd", mixinStandardHelpOptions = true, versionProvider = NbdCli.Version.class,
        description = "NBD (Network Block Device) tools built on nbd-netty.")
public final class NbdCli implements java.util.concurrent.Callable<Integer> {
    /** The version shown when the jar manifest has none. */
    public static final String VERSION = "0.1.0-SNAPSHOT";

    /**
     * Every subcommand by its name (as in its {@code @Command}), in the order {@code nbd --help} lists them. Add new
     * ones here.
     */
    static final Map<String, Supplier<Object>> SUBCOMMANDS;

    static {
        Map<String, Supplier<Object>> m = new LinkedHashMap<>();
        m.put("info", InfoCommand::new);
        m.put("copy", CopyCommand::new);
        m.put("bench", BenchCommand::new);
        m.put("backup", BackupCommand::new);
        m.put("demo", DemoCommand::new);
        m.put("serve", ServeCommand::new);
        SUBCOMMANDS = Collections.unmodifiableMap(m);
    }

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
        return commandLine(subcommandIn(args)).execute(args);
    }

    /**
     * Returns the name of the subcommand that {@code args} runs, or null if they name none: the first argument that
     * is not an option (the top-level options take no values), if it is a subcommand's name.
     */
    static String subcommandIn(String... args) {
        for (String a : args) {
            if (a.equals("--")) {
                return null;
            }
            if (!a.startsWith("-")) {
                return SUBCOMMANDS.containsKey(a) ? a : null;
            }
        }
        return null;
    }

    /**
     * Builds the command line with every subcommand and the error handling.
     *
     * @return a fresh command line
     */
    public static CommandLine commandLine() {
        return commandLine(null);
    }

    /**
     * Builds the command line with one subcommand, or with all of them if {@code only} is null. Picocli reads every
     * subcommand's annotations when it is added, which is much of the tool's start-up time (its classes cannot be
     * kept in the JVM's class-data archive), so a run that names its subcommand builds only that one.
     */
    static CommandLine commandLine(String only) {
        CommandLine cmd = new CommandLine(new NbdCli());
        for (Map.Entry<String, Supplier<Object>> e : SUBCOMMANDS.entrySet()) {
            if (only == null || only.equals(e.getKey())) {
                cmd.addSubcommand(e.getKey(), e.getValue().get());
            }
        }
        cmd.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            PrintWriter err = c.getErr();
            err.println(c.getCommandSpec().qualifiedName() + ": " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, err); // "Did you mean: nbd copy?"
            err.println("Try '" + c.getCommandSpec().qualifiedName() + " --help' for more information.");
            err.flush();
            return 1;
        });
        cmd.setExecutionExceptionHandler((ex, c, parseResult) -> {
            PrintWriter err = c.getErr();
            String message = CliErrors.describe(ex);
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
    public Integer call() {
        // "nbd" alone: show what there is, on stderr, and fail, as nbdinfo and nbdcopy do without arguments.
        spec.commandLine().usage(spec.commandLine().getErr());
        spec.commandLine().getErr().flush();
        return 1;
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
