package io.nbdnetty.examples.cli.copy;

import io.nbdnetty.client.copy.CopySource;
import io.nbdnetty.client.copy.CopyTarget;
import io.netty.buffer.ByteBuf;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;

/** stdin, stdout, a pipe or a character device: strictly sequential. */
final class StreamEndpoint implements CopySource, CopyTarget {
    private final String name;
    private final InputStream in;
    private final OutputStream out;
    private long position;

    StreamEndpoint(String name, InputStream in, OutputStream out) {
        this.name = name;
        this.in = in;
        this.out = out;
    }

    @Override
    public long size() {
        return -1;
    }

    @Override
    public boolean stream() {
        return true;
    }

    @Override
    public long maxRequest() {
        return Long.MAX_VALUE;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) throws IOException {
        // Not InputStream.readNBytes: JDK 17's FileInputStream version seeks, which fails on a pipe.
        byte[] b = new byte[length];
        int n = 0;
        while (n < length) {
            int r = in.read(b, n, length - n);
            if (r < 0) {
                break;
            }
            n += r;
        }
        return CompletableFuture.completedFuture(io.netty.buffer.Unpooled.wrappedBuffer(b, 0, n));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data) throws IOException {
        try {
            if (offset != position) {
                throw new IOException(name + ": out-of-order write at " + offset + ", expected " + position);
            }
            int n = data.readableBytes();
            data.getBytes(data.readerIndex(), out, n);
            position += n;
            return CompletableFuture.completedFuture(null);
        } finally {
            data.release();
        }
    }

    @Override
    public CompletableFuture<Void> zero(long offset, long length) throws IOException {
        byte[] zeroes = new byte[(int) Math.min(length, 1 << 20)];
        for (long at = offset; at < offset + length;) {
            int n = (int) Math.min(zeroes.length, offset + length - at);
            write(at, io.netty.buffer.Unpooled.wrappedBuffer(zeroes, 0, n));
            at += n;
        }
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> flush() throws IOException {
        out.flush();
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public void close() throws IOException {
        if (out != null) {
            out.flush();
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
