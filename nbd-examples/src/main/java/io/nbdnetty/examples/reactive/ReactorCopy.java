package io.nbdnetty.examples.reactive;

import io.nbdnetty.client.NbdBlockDevice;
import io.nbdnetty.client.stream.NbdStreams;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;
import reactor.adapter.JdkFlowAdapter;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Copies one export to another with Reactor, with backpressure end to end: {@link NbdStreams#read} is bridged into
 * a {@link Flux} with {@link JdkFlowAdapter#flowPublisherToFlux}, and {@code flatMap} with a concurrency of
 * {@code window} writes each chunk as it arrives. flatMap requests no more than {@code window} chunks ahead, the
 * read publisher reads no more than that ahead, so at most {@code window} reads and {@code window} writes are in
 * flight and memory stays bounded whatever the export size.
 *
 * <pre>{@code
 * long copied = ReactorCopy.copy(source, target, source.size(), 1 << 20, 8).block();
 * }</pre>
 */
public final class ReactorCopy {
    private ReactorCopy() {
    }

    /**
     * Copies {@code [0, length)} of {@code source} to the same offsets of {@code target}.
     *
     * @param source where to read
     * @param target where to write (at least {@code length} bytes)
     * @param length how many bytes
     * @param chunkSize bytes per request (within both servers' maximum block sizes)
     * @param window how many chunks may be read ahead and written at once
     * @return a cold Mono of the bytes copied; nothing happens until it is subscribed
     */
    public static Mono<Long> copy(NbdBlockDevice source, NbdBlockDevice target, long length, int chunkSize,
            int window) {
        return Flux.defer(() -> JdkFlowAdapter.flowPublisherToFlux(
                        NbdStreams.read(source, 0, length, chunkSize, window)))
                .index()
                .flatMap(chunk -> {
                    long offset = chunk.getT1() * chunkSize;
                    ByteBuf data = chunk.getT2();
                    long n = data.readableBytes();
                    // The target owns the buffer from here on and releases it once written (or failed).
                    return Mono.fromFuture(target.write(offset, data, 0)).thenReturn(n);
                }, window, 1)
                .reduce(0L, Long::sum)
                // Chunks Reactor drops on cancel or error (queued in flatMap) are released, never leaked.
                .doOnDiscard(ByteBuf.class, ReferenceCountUtil::safeRelease);
    }
}
