package io.nbdnetty.examples.cli.info;

import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.examples.cli.CliSupport;
import io.netty.buffer.ByteBuf;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** nbdinfo's content probe: file(1) on the first 8 KiB of an export. */
final class ContentProbe {
    private static final int CONTENT_BYTES = 8192;

    private ContentProbe() {
    }

    /** What file(1) says of the export's first 8 KiB; null when it cannot be had (best effort). */
    static String content(NbdHandle h, long exportSize) throws Exception {
        NbdConnection conn = h.isNegotiating() ? CliSupport.await(h.optGo()) : h.connection();
        int n = (int) Math.min(exportSize, CONTENT_BYTES);
        byte[] data = new byte[n];
        if (n > 0) {
            try {
                ByteBuf buf = CliSupport.await(conn.read(0, n));
                try {
                    buf.getBytes(buf.readerIndex(), data);
                } finally {
                    buf.release();
                }
            } catch (NbdException e) {
                return null;
            }
        }
        Path tmp = Files.createTempFile("nbd-info-", ".bin");
        try {
            Files.write(tmp, data);
            Process p;
            try {
                p = new ProcessBuilder("file", "-b", tmp.toString()).redirectErrorStream(false)
                        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            } catch (IOException e) {
                return null;
            }
            String line;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                line = r.readLine();
            }
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return null;
            }
            return line;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
