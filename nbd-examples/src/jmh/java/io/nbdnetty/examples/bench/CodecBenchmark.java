package io.nbdnetty.examples.bench;

import io.nbdnetty.codec.NbdCommandFlags;
import io.nbdnetty.codec.NbdCommandType;
import io.nbdnetty.codec.NbdConstants;
import io.nbdnetty.codec.NbdReplyDecoder;
import io.nbdnetty.codec.NbdReplyType;
import io.nbdnetty.codec.NbdRequest;
import io.nbdnetty.codec.NbdRequestEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
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

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Costs of the codec on the data path, one message per operation, with pooled direct buffers.
 *
 * <p>Decoding goes through the decoder's real {@code channelRead} in a pipeline (an {@link EmbeddedChannel}'s, but
 * the benchmark fires reads straight into the pipeline, so none of EmbeddedChannel's queues or task running is
 * measured). Each operation hands the decoder a retained duplicate of one prepared message, as if one socket read
 * delivered exactly one reply; the decoded message goes to a {@link Blackhole} and is released. Encoding calls the
 * static {@link NbdRequestEncoder#encode} and releases what it produced.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
// Event-loop-like worker threads: see FastThreadLocalExecutor.
@Fork(value = 1, jvmArgsAppend = {"-Djmh.executor=CUSTOM",
        "-Djmh.executor.class=io.nbdnetty.examples.bench.FastThreadLocalExecutor"})
public class CodecBenchmark {
    private static final long COOKIE = 0x0102030405060708L;

    /** READ/WRITE data size in bytes. */
    @Param({"4096"})
    public int size;

    private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
    private ByteBuf structuredRead;
    private ByteBuf simpleRead;
    private ByteBuf writePayload;
    private EmbeddedChannel structuredChannel;
    private EmbeddedChannel simpleChannel;
    private ChannelPipeline structuredPipeline;
    private ChannelPipeline simplePipeline;
    private final List<Object> encoded = new ArrayList<>(2);

    /** Consumes decoded messages: into the blackhole, then released. */
    private static final class Sink extends ChannelInboundHandlerAdapter {
        Blackhole bh;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            bh.consume(msg);
            ReferenceCountUtil.release(msg);
        }
    }

    private final Sink structuredSink = new Sink();
    private final Sink simpleSink = new Sink();

    @Setup(Level.Trial)
    public void setUp(Blackhole bh) {
        byte[] data = new byte[size];
        for (int i = 0; i < size; i++) {
            data[i] = (byte) i;
        }
        // Structured reply chunk (proto.md): magic, flags (DONE), type OFFSET_DATA, cookie, length, offset, data.
        structuredRead = Untracked.directBuffer(alloc, NbdConstants.STRUCTURED_REPLY_HEADER_LENGTH + 8 + size)
                .writeInt(NbdConstants.STRUCTURED_REPLY_MAGIC).writeShort(1)
                .writeShort(NbdReplyType.OFFSET_DATA.code()).writeLong(COOKIE).writeInt(8 + size).writeLong(0)
                .writeBytes(data);
        // Simple reply (proto.md): magic, error 0, cookie, data.
        simpleRead = Untracked.directBuffer(alloc, NbdConstants.SIMPLE_REPLY_HEADER_LENGTH + size)
                .writeInt(NbdConstants.SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(COOKIE).writeBytes(data);
        writePayload = Untracked.directBuffer(alloc, size).writeBytes(data);

        long readLength = size;
        structuredSink.bh = bh;
        simpleSink.bh = bh;
        structuredChannel = new EmbeddedChannel(new NbdReplyDecoder(false, c -> readLength,
                NbdReplyDecoder.DEFAULT_MAX_PAYLOAD_LENGTH), structuredSink);
        simpleChannel = new EmbeddedChannel(new NbdReplyDecoder(false, c -> readLength,
                NbdReplyDecoder.DEFAULT_MAX_PAYLOAD_LENGTH), simpleSink);
        structuredPipeline = structuredChannel.pipeline();
        simplePipeline = simpleChannel.pipeline();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        structuredChannel.finishAndReleaseAll();
        simpleChannel.finishAndReleaseAll();
        structuredRead.release();
        simpleRead.release();
        writePayload.release();
    }

    /** Decode one 4 KiB NBD_REPLY_TYPE_OFFSET_DATA chunk (structured reply to READ). */
    @Benchmark
    public void decodeStructuredReadReply() {
        structuredPipeline.fireChannelRead(structuredRead.retainedDuplicate());
    }

    /** Decode one simple reply carrying 4 KiB of READ data. */
    @Benchmark
    public void decodeSimpleReadReply() {
        simplePipeline.fireChannelRead(simpleRead.retainedDuplicate());
    }

    /** Encode one compact 4 KiB WRITE request (header allocated, payload passed on retained). */
    @Benchmark
    public void encodeWriteRequest(Blackhole bh) {
        NbdRequest request = new NbdRequest(NbdCommandFlags.FUA, NbdCommandType.WRITE, COOKIE, 0, size,
                writePayload.retain());
        NbdRequestEncoder.encode(alloc, request, encoded, false);
        request.release();
        for (Object o : encoded) {
            bh.consume(o);
            ReferenceCountUtil.release(o);
        }
        encoded.clear();
    }
}
