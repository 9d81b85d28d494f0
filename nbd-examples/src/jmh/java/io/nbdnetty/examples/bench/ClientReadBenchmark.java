package io.nbdnetty.examples.bench;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.codec.NbdConstants;
import io.nbdnetty.codec.NbdReplyType;
import io.nbdnetty.codec.NbdTransmissionFlags;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
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

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The whole client read path, one 4 KiB READ per operation: {@link NbdConnection#read(long, int)} (the request,
 * its header written to the channel), the reply decoded by the connection's own pipeline, the future completed and
 * the data released.
 *
 * <p>The connection runs on an {@link EmbeddedChannel}: the handshake is answered by hand in the set-up, then each
 * operation issues the read, takes the request header the client wrote (and releases it), puts its cookie in a
 * reply prepared in advance and fires a retained duplicate of that reply into the pipeline, as if one socket read
 * delivered it. So what is measured is the client's own work, without a socket, a server or EmbeddedChannel's task
 * running. Structured replies (one {@code NBD_REPLY_TYPE_OFFSET_DATA} chunk with the DONE flag) or simple replies,
 * as negotiated; pooled direct buffers; no listener; no request timeout unless {@link #timeoutMillis} is set (its
 * timer is scheduled on the embedded loop and never runs, as in a steady state where requests complete in time).
 * {@link #write} measures the same for a 4 KiB WRITE, answered with a NONE chunk (DONE) or a simple reply.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
// Event-loop-like worker threads: see FastThreadLocalExecutor.
@Fork(value = 1, jvmArgsAppend = {"-Djmh.executor=CUSTOM",
        "-Djmh.executor.class=io.nbdnetty.examples.bench.FastThreadLocalExecutor"})
public class ClientReadBenchmark {
    private static final long EXPORT_SIZE = 1L << 30;

    /** READ size in bytes. */
    @Param({"4096"})
    public int size;

    /** Whether structured replies are negotiated (else simple replies). */
    @Param({"true", "false"})
    public boolean structured;

    /** A request timeout, in milliseconds (0: none, the default). */
    @Param({"0"})
    public int timeoutMillis;

    /** The stall timeout, in milliseconds (the default 60 s; 0: none, so no progress handler and no stall timer). */
    @Param({"60000"})
    public int stallMillis;

    private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
    private EmbeddedChannel channel;
    private ChannelPipeline pipeline;
    private NbdHandle handle;
    private NbdConnection connection;
    private ByteBuf reply;
    private ByteBuf writeReply;
    private ByteBuf payload;
    private long offset;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        channel = new EmbeddedChannel();
        channel.config().setAllocator(alloc);
        pipeline = channel.pipeline();
        NbdClientConfig config = NbdClientConfig.builder().requestStructuredReplies(structured)
                .requestExtendedHeaders(false).requestTimeout(java.time.Duration.ofMillis(timeoutMillis))
                .stallTimeout(java.time.Duration.ofMillis(stallMillis)).build();
        handle = NbdHandle.create(config);
        CompletableFuture<NbdConnection> ready = handle.connect(channel);
        channel.runPendingTasks();
        EmbeddedHandshake.answer(channel, EXPORT_SIZE, NbdTransmissionFlags.HAS_FLAGS | NbdTransmissionFlags.SEND_FLUSH
                | NbdTransmissionFlags.SEND_DF, structured, false);
        connection = ready.get(5, TimeUnit.SECONDS);

        byte[] data = new byte[size];
        for (int i = 0; i < size; i++) {
            data[i] = (byte) i;
        }
        if (structured) {
            // Structured reply chunk: magic, flags (DONE), type OFFSET_DATA, cookie, length, offset, data.
            reply = Untracked.directBuffer(alloc, NbdConstants.STRUCTURED_REPLY_HEADER_LENGTH + 8 + size)
                    .writeInt(NbdConstants.STRUCTURED_REPLY_MAGIC).writeShort(1)
                    .writeShort(NbdReplyType.OFFSET_DATA.code()).writeLong(0).writeInt(8 + size).writeLong(0)
                    .writeBytes(data);
        } else {
            // Simple reply: magic, error 0, cookie, data.
            reply = Untracked.directBuffer(alloc, NbdConstants.SIMPLE_REPLY_HEADER_LENGTH + size)
                    .writeInt(NbdConstants.SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(0).writeBytes(data);
        }
        // The reply to a WRITE: a NONE chunk with DONE (magic, flags, type, cookie, length 0), or a simple reply.
        writeReply = structured
                ? Untracked.directBuffer(alloc, NbdConstants.STRUCTURED_REPLY_HEADER_LENGTH)
                        .writeInt(NbdConstants.STRUCTURED_REPLY_MAGIC).writeShort(1)
                        .writeShort(NbdReplyType.NONE.code()).writeLong(0).writeInt(0)
                : Untracked.directBuffer(alloc, NbdConstants.SIMPLE_REPLY_HEADER_LENGTH)
                        .writeInt(NbdConstants.SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(0);
        payload = Untracked.directBuffer(alloc, size).writeBytes(data);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        handle.close();
        channel.finishAndReleaseAll();
        reply.release();
        writeReply.release();
        payload.release();
    }

    /**
     * Issue one WRITE of a retained duplicate of a prepared payload (the duplicate is this benchmark's own
     * allocation, as a caller's buffer would be), take what the client wrote, answer it.
     */
    @Benchmark
    public void write(Blackhole bh) {
        CompletableFuture<Void> f = connection.write(offset, payload.retainedDuplicate());
        offset = (offset + size) & (EXPORT_SIZE - 1);
        ByteBuf header = channel.readOutbound();
        writeReply.setLong(8, header.getLong(header.readerIndex() + 8));
        header.release();
        for (ByteBuf b; (b = channel.readOutbound()) != null; ) {
            b.release(); // the payload
        }
        pipeline.fireChannelRead(writeReply.retainedDuplicate());
        pipeline.fireChannelReadComplete();
        if (!f.isDone() || f.isCompletedExceptionally()) {
            throw new IllegalStateException("the write did not complete: " + f);
        }
        bh.consume(f);
    }

    /** Issue one READ, answer it, consume and release the data. */
    @Benchmark
    public void read(Blackhole bh) {
        CompletableFuture<ByteBuf> f = connection.read(offset, size);
        answer();
        ByteBuf data = f.getNow(null);
        bh.consume(data);
        data.release();
    }

    /** The same with {@link NbdConnection#read(long, int, int, io.nbdnetty.client.NbdReadCallback)}. */
    @Benchmark
    public void readCallback(Blackhole bh) {
        sink.bh = bh;
        connection.read(offset, size, 0, sink);
        answer();
        if (sink.received != 1) {
            throw new IllegalStateException("the read did not complete");
        }
        sink.received = 0;
    }

    /** Consumes and releases what a callback read delivers. */
    private static final class Sink implements io.nbdnetty.client.NbdReadCallback {
        Blackhole bh;
        int received;

        @Override
        public void readCompleted(long offset, int length, ByteBuf data, Throwable error) {
            if (error != null) {
                throw new IllegalStateException(error);
            }
            received++;
            bh.consume(data);
            data.release();
        }
    }

    private final Sink sink = new Sink();

    /** Takes the request header the client wrote and answers it with the prepared reply. */
    private void answer() {
        offset = (offset + size) & (EXPORT_SIZE - 1);
        ByteBuf header = channel.readOutbound();
        reply.setLong(8, header.getLong(header.readerIndex() + 8));
        if (structured) {
            reply.setLong(NbdConstants.STRUCTURED_REPLY_HEADER_LENGTH, header.getLong(header.readerIndex() + 16));
        }
        header.release();
        pipeline.fireChannelRead(reply.retainedDuplicate());
        pipeline.fireChannelReadComplete();
    }
}
