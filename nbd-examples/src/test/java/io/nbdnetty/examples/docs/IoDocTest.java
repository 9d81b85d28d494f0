package io.nbdnetty.examples.docs;

import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdExtent;
import io.nbdnetty.client.NbdExtentList;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdReadCallback;
import io.nbdnetty.client.copy.Copier;
import io.nbdnetty.client.copy.FileEndpoint;
import io.nbdnetty.client.copy.NbdEndpoint;
import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.codec.NbdStateFlags;
import io.nbdnetty.testing.peers.PeerServer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.UnixDomainSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The code of docs/io.md, against nbdkit memory (every command and flag supported). */
@Timeout(120)
class IoDocTest {
    private PeerServer server;
    private NbdHandle handle;
    private NbdConnection conn;

    @BeforeEach
    void connect() throws Exception {
        server = PeerServer.nbdkit("memory", "size=16M").start();
        handle = NbdHandle.create(NbdClientConfig.builder().addMetaContext(NbdMetaContext.BASE_ALLOCATION).build());
        conn = handle.connect(SocketChannel.open(UnixDomainSocketAddress.of(server.socketPath()))).get();
    }

    @AfterEach
    void close() throws Exception {
        conn.disconnect().get();
        handle.close();
        server.close();
    }

    @Test
    void writeAndRead() throws Exception {
        // tag::write[]
        byte[] block = new byte[4096];
        Arrays.fill(block, (byte) 0x5a);
        // The connection owns the buffer from this call on: it releases it once sent, or on failure.
        conn.write(0, Unpooled.wrappedBuffer(block)).get();
        // FUA: acknowledged only once the data is on stable storage (strict mode checks canFua()).
        conn.write(4096, Unpooled.wrappedBuffer(block), NbdCommandFlags.FUA).get();
        // end::write[]

        // tag::read[]
        ByteBuf data = conn.read(0, 8192).get();    // a new buffer, owned by the caller
        try {
            System.out.println(data.readableBytes() + " bytes, first " + data.getByte(0));
        } finally {
            data.release();                          // always: it may be a slice of the socket's buffer
        }
        // end::read[]

        // tag::readInto[]
        ByteBuf destination = PooledByteBufAllocator.DEFAULT.directBuffer(8192);
        try {
            // The data lands at destination's writer index, which advances; the buffer stays the caller's.
            conn.read(0, destination, 4096, 0).get();
            conn.read(4096, destination, 4096, 0).get();
            System.out.println(destination.readableBytes() + " bytes read into my own buffer");
        } finally {
            destination.release();
        }
        // end::readInto[]

        // tag::readCallback[]
        CompletableFuture<Long> total = new CompletableFuture<>();
        NbdReadCallback callback = new NbdReadCallback() {
            private long bytes;

            @Override
            public void readCompleted(long offset, int length, ByteBuf data, Throwable error) {
                if (error != null) {
                    total.completeExceptionally(error);
                    return;
                }
                bytes += data.readableBytes();
                data.release();                                  // the callback owns the data
                if (offset + length < 1 << 20) {
                    conn.read(offset + length, length, 0, this); // on the event loop: allocates nothing
                } else {
                    total.complete(bytes);
                }
            }
        };
        conn.read(0, 4096, 0, callback);
        System.out.println(total.get() + " bytes, one 4 KiB read after another");
        // end::readCallback[]
        assertEquals(1 << 20, total.get());
    }

    @Test
    void zeroTrimCacheFlush() throws Exception {
        conn.write(0, Unpooled.wrappedBuffer(new byte[1 << 20])).get();
        // tag::others[]
        conn.writeZeroes(0, 1 << 20, 0).get();                      // may leave a hole
        conn.writeZeroes(1 << 20, 1 << 20, NbdCommandFlags.NO_HOLE).get(); // allocated zeroes
        conn.trim(2 << 20, 1 << 20, 0).get();                       // a hint: the data becomes undefined
        conn.cache(0, 4 << 20).get();                               // prefetch
        conn.flush().get();                                         // every completed write is now durable
        // end::others[]
        assertTrue(conn.exportInfo().canFastZero());
    }

    @Test
    void blockStatus() throws Exception {
        conn.write(1 << 20, Unpooled.wrappedBuffer(new byte[] {1, 2, 3})).get();
        long[] extents = new long[1];
        // tag::blockStatus[]
        NbdBlockStatus status = conn.blockStatus(0, conn.size(), 0).get();
        for (NbdExtent e : status.extents(NbdMetaContext.BASE_ALLOCATION)) {
            System.out.printf("%10d %10d %s%n", e.offset(), e.length(),
                    e.isHole() ? "hole" : e.isZero() ? "zero" : "data");
        }
        // end::blockStatus[]
        extents[0] = status.extents(NbdMetaContext.BASE_ALLOCATION).size();
        assertTrue(extents[0] >= 2);
    }

    @Test
    void extentList() throws Exception {
        conn.write(1 << 20, Unpooled.wrappedBuffer(new byte[] {1, 2, 3})).get();
        NbdBlockStatus status = conn.blockStatus(0, conn.size(), 0).get();
        long[] dataBytes = new long[1];
        // tag::extentList[]
        NbdExtentList l = status.extentList(NbdMetaContext.BASE_ALLOCATION);
        l.forEachExtent((offset, length, flags) -> {
            if ((flags & NbdStateFlags.HOLE) == 0) {
                dataBytes[0] += length;                   // no object per extent
            }
        });
        // end::extentList[]
        assertTrue(dataBytes[0] > 0 && dataBytes[0] < conn.size());
        assertEquals(conn.size(), l.end());
    }

    @Test
    void copyToAFile(@TempDir Path dir) throws Exception {
        byte[] data = new byte[70_000];
        Arrays.fill(data, (byte) 7);
        conn.write(1 << 20, Unpooled.wrappedBuffer(data)).get();
        Path path = dir.resolve("disk.img");
        // tag::copy[]
        Copier copier = Copier.builder().requestSize(1 << 20).window(16).flush(true).build();
        NbdEndpoint source = new NbdEndpoint("the export", conn, true, System.err::println);
        Copier.Result r;
        try (FileEndpoint target = FileEndpoint.replacing(path,
                FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE))) {
            r = copier.copy(source, target, null);
        }
        System.out.printf("copied %d bytes, left %d sparse%n", r.bytesCopied(), r.bytesSkipped());
        // end::copy[]
        byte[] copy = Files.readAllBytes(path);
        assertEquals(conn.size(), copy.length);
        assertEquals(-1, Arrays.mismatch(data, Arrays.copyOfRange(copy, 1 << 20, (1 << 20) + data.length)));
        assertEquals(1 << 20, Arrays.mismatch(copy, new byte[copy.length]), "nothing but zeroes before the data");
        int after = (1 << 20) + data.length;
        assertEquals(-1, Arrays.mismatch(Arrays.copyOfRange(copy, after, copy.length), new byte[copy.length - after]),
                "nothing but zeroes after it");
        assertTrue(r.bytesCopied() >= data.length && r.bytesCopied() < conn.size(), r.toString());
        assertEquals(conn.size(), r.bytesCopied() + r.bytesSkipped(), "holes skipped, data copied: " + r);
    }
}
