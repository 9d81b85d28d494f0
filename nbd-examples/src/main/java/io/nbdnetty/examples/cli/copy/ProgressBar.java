package io.nbdnetty.examples.cli.copy;

import io.nbdnetty.client.copy.Copier;
import io.nbdnetty.examples.cli.Sizes;

import java.io.PrintWriter;
import java.util.Locale;

/** {@code nbd copy --progress}: a one-line progress bar on stderr, redrawn at most ten times a second. */
final class ProgressBar implements Copier.Progress {
    private final PrintWriter err;
    private long total;
    private long start;
    private long lastDraw;

    ProgressBar(PrintWriter err) {
        this.err = err;
    }

    @Override
    public void started(long size) {
        total = size;
        start = System.nanoTime();
        draw(0);
    }

    @Override
    public void update(long done) {
        long now = System.nanoTime();
        if (now - lastDraw >= 100_000_000L) {
            lastDraw = now;
            draw(done);
        }
    }

    @Override
    public void finished(long done) {
        draw(done);
        err.print('\n');
        err.flush();
    }

    private void draw(long done) {
        double secs = Math.max(1e-9, (System.nanoTime() - start) / 1e9);
        String rate = String.format(Locale.ROOT, "%.1f MiB/s", done / secs / (1 << 20));
        String line;
        if (total > 0) {
            int pct = (int) Math.min(100, done * 100 / total);
            int filled = (int) Math.min(40, done * 40 / total);
            line = String.format(Locale.ROOT, "\r%3d%% [%s%s] %s", pct, "*".repeat(filled),
                    "-".repeat(40 - filled), rate);
        } else {
            line = "\r" + Sizes.human(done) + " copied, " + rate;
        }
        err.print(line);
        err.flush();
    }
}
