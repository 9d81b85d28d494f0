package io.nbdnetty.client.backup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * The backup record {@link NbdBackup#toFile(Path)} keeps beside a target file: what a full backup writes and what an
 * incremental one checks (the rules are on {@link NbdBackup}'s class comment).
 */
final class BackupRecord {
    private final long sourceSize;
    private final String bitmap;
    private final String sourceId;

    BackupRecord(long sourceSize, String bitmap, String sourceId) {
        this.sourceSize = sourceSize;
        this.bitmap = bitmap;
        this.sourceId = sourceId;
    }

    /** What a full backup records: the properties an incremental backup must find again. */
    private java.util.Properties record() {
        java.util.Properties p = new java.util.Properties();
        p.setProperty("format", "1");
        p.setProperty("size", Long.toString(sourceSize));
        p.setProperty("bitmap", bitmap == null ? "" : bitmap);
        p.setProperty("source", sourceId == null ? "" : sourceId);
        return p;
    }

    /** {@return the record file's text} */
    String text() {
        StringBuilder b = new StringBuilder("# nbd-netty backup record, written when the full backup of the file "
                + "beside it finished.\n# An incremental backup onto that file needs the same size, bitmap and "
                + "source.\n");
        java.util.Properties p = record();
        for (String k : List.of("format", "size", "bitmap", "source")) {
            b.append(k).append('=').append(escape(p.getProperty(k))).append('\n');
        }
        return b.toString();
    }

    /** Escapes a value for a properties file: separators and backslashes, a leading blank, and non-ASCII. */
    private static String escape(String v) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == '\\' || c == '=' || c == ':' || c == '#' || c == '!' || (c == ' ' && i == 0)) {
                b.append('\\').append(c);
            } else if (c < 0x20 || c > 0x7e) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    /**
     * Checks that {@code path} is a finished full backup of this source, as {@link NbdBackup}'s class comment says.
     *
     * @param path the target file
     * @param recordFile its record
     * @throws NbdBackupTargetException if it is not
     */
    void check(Path path, Path recordFile) throws NbdBackupTargetException {
        String how = ": an incremental backup goes onto the previous full backup of the same disk";
        if (!java.nio.file.Files.exists(path)) {
            throw new NbdBackupTargetException(path + " does not exist" + how + " (take a full backup first)");
        }
        if (!java.nio.file.Files.isRegularFile(path)) {
            throw new NbdBackupTargetException(path + " is not a regular file" + how);
        }
        long size;
        try {
            size = java.nio.file.Files.size(path);
        } catch (IOException e) {
            throw new NbdBackupTargetException("cannot read the size of " + path + ": " + e.getMessage());
        }
        if (size != sourceSize) {
            throw new NbdBackupTargetException(path + " is " + size + " bytes but the source is " + sourceSize
                    + " bytes, so it is not a backup of it" + how);
        }
        java.util.Properties found = new java.util.Properties();
        try (java.io.Reader r = java.nio.file.Files.newBufferedReader(recordFile,
                java.nio.charset.StandardCharsets.ISO_8859_1)) {
            found.load(r);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new NbdBackupTargetException(path + " has no backup record (" + recordFile.getFileName()
                    + "), so it is not known to be a finished full backup of this source" + how);
        } catch (IOException | IllegalArgumentException e) {
            throw new NbdBackupTargetException("cannot read the backup record " + recordFile + ": " + e.getMessage());
        }
        java.util.Properties expected = record();
        if (!"1".equals(found.getProperty("format"))) {
            throw new NbdBackupTargetException("the backup record " + recordFile + " is not one this version reads"
                    + " (format " + found.getProperty("format") + ")");
        }
        for (String k : List.of("size", "bitmap", "source")) {
            String was = found.getProperty(k, "");
            String now = expected.getProperty(k);
            if (!was.equals(now)) {
                throw new NbdBackupTargetException(path + " is a full backup " + describe(k, was) + ", not "
                        + describe(k, now) + " (its record " + recordFile.getFileName() + " says so)" + how);
            }
        }
    }

    private static String describe(String key, String value) {
        return switch (key) {
            case "size" -> "of a " + value + "-byte source";
            case "bitmap" -> value.isEmpty() ? "taken without a bitmap" : "for bitmap " + value;
            default -> value.isEmpty() ? "of a source with no identity" : "of source \"" + value + "\"";
        };
    }

    /** Writes the record to a temporary file, forces it, then moves it into place. */
    static void write(Path record, String recordText) throws IOException {
        Path tmp = record.resolveSibling(record.getFileName() + ".tmp");
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = ByteBuffer.wrap(recordText.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            while (b.hasRemaining()) {
                out.write(b);
            }
            out.force(true);
        }
        java.nio.file.Files.move(tmp, record, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
}
