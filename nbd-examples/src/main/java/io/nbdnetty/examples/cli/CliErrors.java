package io.nbdnetty.examples.cli;

import io.nbdnetty.client.NbdErrors;
import io.nbdnetty.client.NbdException;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.regex.Pattern;

/**
 * The one line a command prints for an error: what failed, where (the path, address or export) and the operating
 * system's reason in words, as nbdinfo and nbdcopy print them ({@code "/tmp/x: No such file or directory"}). Never a
 * Java or Netty class name, an errno number or an ISO-8601 duration; {@code --debug} adds the stack trace.
 */
public final class CliErrors {
    private CliErrors() {
    }

    /**
     * Describes a failure in one line, without the command's name.
     *
     * @param t the failure
     * @return the message
     */
    public static String describe(Throwable t) {
        Throwable e = t;
        while ((e instanceof ExecutionException || e instanceof CompletionException) && e.getCause() != null) {
            e = e.getCause();
        }
        String m;
        if (e instanceof NbdException) {
            m = e.getMessage();
        } else if (e instanceof FileSystemException fse && fse.getFile() != null) {
            m = fse.getFile() + (fse.getOtherFile() != null ? " -> " + fse.getOtherFile() : "") + ": "
                    + NbdErrors.inWords(fse);
        } else if (e instanceof FileNotFoundException && e.getMessage() != null
                && e.getMessage().matches(".* \\([^()]+\\)")) {
            String s = e.getMessage();
            m = s.substring(0, s.lastIndexOf(" (")) + ": " + NbdErrors.inWords(e);
        } else if (e instanceof IOException || e.getMessage() == null) {
            m = NbdErrors.inWords(e);
        } else {
            m = e.getMessage();
        }
        if (m == null || m.isBlank()) {
            m = NbdErrors.inWords(e);
        }
        // The last line of defence: one line, no class names.
        String line = CLASS_NAME.matcher(m.replace('\n', ' ').replace('\r', ' ')).replaceAll("").strip();
        return line.isEmpty() ? "failed" : line;
    }

    /** A Java class name in a message (a fully qualified one, or a simple one ending in Exception or Error). */
    private static final Pattern CLASS_NAME = Pattern.compile(
            "\\b(?:(?:java|javax|sun|jdk|io\\.netty|com\\.sun)\\.[\\w.$]+|[A-Z]\\w*(?:Exception|Error))\\b:? ?");

    /**
     * Rewrites a failure to open or use a local file so that it names the file, as {@code "PATH: reason"}.
     *
     * @param name the file as the user wrote it
     * @param e the failure
     * @return an exception whose message names the file, with {@code e} as its cause
     */
    public static IOException aboutFile(String name, IOException e) {
        String reason = NbdErrors.inWords(e);
        if (e.getMessage() != null && e.getMessage().startsWith(name + ": ")) {
            return e;
        }
        if (reason.startsWith(name + ": ")) {
            return new IOException(reason, e);
        }
        return new IOException(name + ": " + reason, e);
    }
}
