package io.nbdnetty.examples.cli.info;

import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdExtentList;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.codec.NbdConstants;
import io.nbdnetty.codec.NbdReplyType;
import io.nbdnetty.codec.NbdTransmissionFlags;
import io.nbdnetty.examples.bench.EmbeddedHandshake;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.embedded.EmbeddedChannel;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.io.Writer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Block status replies of {@link #extents} one-byte extents in one {@code NBD_REPLY_TYPE_BLOCK_STATUS} chunk
 * (alternating data and hole|zero, so nothing merges), the case of docs/PERFORMANCE.md's "Block status memory".
 * Run with {@code -prof gc}: {@code gc.alloc.rate.norm} divided by {@link #extents} is the allocation per extent.
 *
 * <ul>
 *   <li>{@link #decode}: {@link NbdConnection#blockStatus} on an {@link EmbeddedChannel} (as {@code
 *       ClientReadBenchmark} does), the reply fired into the connection's own pipeline as one socket read, decoded,
 *       checked and handed over, then every extent visited with {@link NbdExtentList#forEachExtent}.</li>
 *   <li>{@link #mapPrinter}: {@code nbd info --map} printing the extents of that reply as the client handed them
 *       over: merged into runs of one type, formatted as nbdinfo does and written to a {@link Writer} that discards
 *       them.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled", "-Djmh.executor=CUSTOM",
        "-Djmh.executor.class=io.nbdnetty.examples.bench.FastThreadLocalExecutor"})
public class BlockStatusBenchmark {
    /** Extents in the chunk. */
    @Param({"1048576"})
    public int extents;

    private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
    private EmbeddedChannel channel;
    private ChannelPipeline pipeline;
    private NbdHandle handle;
    private NbdConnection connection;
    private ByteBuf reply;
    private NbdExtentList decoded;
    private java.util.List<NbdExtentList> replies;
    private final MapPrinter printer = new MapPrinter(NbdMetaContext.BASE_ALLOCATION, false);
    private final Writer discard = Writer.nullWriter();

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        channel = new EmbeddedChannel();
        channel.config().setAllocator(alloc);
        pipeline = channel.pipeline();
        NbdClientConfig config = NbdClientConfig.builder().requestExtendedHeaders(false)
                .addMetaContext(NbdMetaContext.BASE_ALLOCATION).build();
        handle = NbdHandle.create(config);
        CompletableFuture<NbdConnection> ready = handle.connect(channel);
        channel.runPendingTasks();
        EmbeddedHandshake.answer(channel, extents, NbdTransmissionFlags.HAS_FLAGS | NbdTransmissionFlags.SEND_FLUSH,
                true, true);
        connection = ready.get(5, TimeUnit.SECONDS);
        // Structured reply chunk: magic, flags (DONE), type BLOCK_STATUS, cookie, length; context id 1; pairs.
        int length = 4 + 8 * extents;
        reply = Unpooled.directBuffer(NbdConstants.STRUCTURED_REPLY_HEADER_LENGTH + length)
                .writeInt(NbdConstants.STRUCTURED_REPLY_MAGIC).writeShort(1)
                .writeShort(NbdReplyType.BLOCK_STATUS.code()).writeLong(0).writeInt(length).writeInt(1);
        for (int i = 0; i < extents; i++) {
            reply.writeInt(1).writeInt((i & 1) * 3);
        }
        decoded = status().extentList(NbdMetaContext.BASE_ALLOCATION);
        replies = java.util.List.of(decoded);
    }

    /** One block status request over the whole export, answered with the prepared chunk. */
    private NbdBlockStatus status() {
        CompletableFuture<NbdBlockStatus> f = connection.blockStatus(0, extents, 0);
        ByteBuf header = channel.readOutbound();
        reply.setLong(8, header.getLong(header.readerIndex() + 8));
        header.release();
        pipeline.fireChannelRead(reply.retainedDuplicate());
        pipeline.fireChannelReadComplete();
        NbdBlockStatus st = f.getNow(null);
        if (st == null) {
            throw new IllegalStateException("the block status did not complete: " + f);
        }
        return st;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        handle.close();
        channel.finishAndReleaseAll();
        reply.release();
    }

    /** Decode one reply of {@link #extents} extents and visit each. */
    @Benchmark
    public void decode(Blackhole bh) {
        NbdExtentList l = status().extentList(NbdMetaContext.BASE_ALLOCATION);
        long[] sum = {0};
        l.forEachExtent((offset, length, flags) -> sum[0] += length + flags);
        bh.consume(sum[0]);
    }

    /** Print the extents of one reply as {@code nbd info --map} does. */
    @Benchmark
    public void mapPrinter() throws Exception {
        printer.printExtents(replies, discard);
    }
}
