package io.nbdnetty.examples.cli;

import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdExportEntry;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdExtent;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdStats;
import io.nbdnetty.examples.server.MemoryExport;
import io.nbdnetty.examples.server.NbdServer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code nbd demo}: with no set-up at all, starts the example server in-process, makes a connected pair of Unix
 * sockets, serves one end and adopts the other with an {@link NbdHandle} in opt mode, then walks through option
 * negotiation (list, info, meta contexts, go) and the transmission phase (write, read back, block status, flush,
 * disconnect), printing each step.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run the example server in-process and show the client's handshake and commands on it.")
public final class DemoCommand implements Callable<Integer> {
    private static final long TIMEOUT_SECONDS = 30;

    @Option(names = "--size", defaultValue = "64M",
            description = "Size of the in-memory export (default ${DEFAULT-VALUE}).")
    String size;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        long exportSize = ServeCommand.parseSizeValue(size);
        Path dir = Files.createTempDirectory("nbd-demo");
        Path socket = dir.resolve("demo.sock");
        EventLoopGroup serverSide = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (NbdServer server = NbdServer.builder()
                .export("demo", new MemoryExport(exportSize), "in-memory export of the nbd demo").build()) {
            out.printf("server: example NBD server in this process, export \"demo\" of %s%n", Sizes.human(exportSize));

            SocketChannel clientEnd;
            SocketChannel serverEnd;
            try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                listener.bind(UnixDomainSocketAddress.of(socket));
                clientEnd = SocketChannel.open(UnixDomainSocketAddress.of(socket));
                serverEnd = listener.accept();
            } finally {
                Files.deleteIfExists(socket);
                Files.deleteIfExists(dir);
            }
            out.println("socket: made a connected pair of Unix sockets; the server serves one end");
            NioDomainSocketChannel served = new NioDomainSocketChannel(serverEnd);
            serverSide.register(served).sync();
            server.serve(served);

            NbdClientConfig config = NbdClientConfig.builder().optMode(true).fullInfo(true)
                    .addMetaContext(NbdMetaContext.BASE_ALLOCATION).build();
            try (NbdHandle handle = NbdHandle.create(config)) {
                out.println("client: NbdHandle state " + handle.state() + "; adopting the other end");
                handle.connect(clientEnd);
                await(handle.negotiatingFuture());
                out.println("client: state " + handle.state() + " (opt mode), protocol " + handle.protocol()
                        + ", extended headers " + handle.extendedHeadersNegotiated() + ", structured replies "
                        + handle.structuredRepliesNegotiated());

                List<NbdExportEntry> exports = await(handle.optList());
                for (NbdExportEntry e : exports) {
                    out.println("opt list: export \"" + e.name() + "\"" + (e.description().isEmpty() ? ""
                            : " (" + e.description() + ")"));
                }
                handle.setExportName("demo");
                NbdExportInfo info = await(handle.optInfo());
                out.println("opt info: " + info);
                List<NbdMetaContext> available = await(handle.optListMetaContexts(List.of()));
                out.println("opt list meta contexts: " + available.stream().map(NbdMetaContext::name).toList());
                NbdConnection conn = await(handle.optGo());
                out.println("opt go: state " + handle.state() + ", reply style " + conn.replyStyle()
                        + ", contexts " + conn.metaContexts());

                byte[] data = new byte[1 << 20];
                new Random(42).nextBytes(data);
                long offset = 4L << 20;
                await(conn.write(offset, Unpooled.wrappedBuffer(data)));
                out.printf("write: %s at offset %d%n", Sizes.human(data.length), offset);
                ByteBuf back = await(conn.read(offset, data.length));
                boolean same;
                try {
                    same = Arrays.equals(data, ByteBufUtil.getBytes(back));
                } finally {
                    back.release();
                }
                out.println("read back: " + (same ? "identical" : "DIFFERENT"));
                if (!same) {
                    return 1;
                }
                NbdBlockStatus status = await(conn.blockStatus(0, Math.min(exportSize, 8L << 20), 0));
                for (NbdExtent e : status.extents(NbdMetaContext.BASE_ALLOCATION)) {
                    out.printf("block status: %10d %10d %s%n", e.offset(), e.length(),
                            e.isHole() ? "hole,zero" : e.isZero() ? "zero" : "data");
                }
                await(conn.flush());
                out.println("flush: done");
                NbdStats stats = conn.stats();
                await(conn.disconnect());
                out.println("disconnect: state " + handle.state() + "; sent " + stats.requestsSent()
                        + " requests, " + stats.bytesSent() + " bytes; received " + stats.bytesReceived() + " bytes");
            }
        } finally {
            serverSide.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
        out.println("demo: OK");
        return 0;
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        try {
            return f.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        }
    }
}
