package io.nbdnetty.examples.server;

import io.nbdnetty.codec.NbdClientHandshakeDecoder;
import io.nbdnetty.codec.NbdHandshakeEncoder;
import io.nbdnetty.codec.NbdReplyDecoder;
import io.nbdnetty.codec.NbdRequestEncoder;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.ReferenceCountUtil;

import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A hand-driven NBD client for tests: the codec's client-side encoders and decoders over a real Unix socket, every
 * decoded message put in a queue for the test to take. Used where no installed client can go (extended headers) and
 * for misbehaving on purpose. The test releases what it takes; {@link #close()} releases the rest.
 */
final class RawNbdClient implements AutoCloseable {
    /** Put in the queue when the connection closes. */
    static final Object CLOSED = new Object() {
        @Override
        public String toString() {
            return "CLOSED";
        }
    };

    private final EventLoopGroup group;
    private final Channel channel;
    private final BlockingQueue<Object> inbound = new LinkedBlockingQueue<>();

    RawNbdClient(Path socket) throws InterruptedException {
        boolean epoll = Epoll.isAvailable();
        group = new MultiThreadIoEventLoopGroup(1, epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        Bootstrap b = new Bootstrap().group(group)
                .channel(epoll ? EpollDomainSocketChannel.class : NioDomainSocketChannel.class)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("enc", NbdHandshakeEncoder.INSTANCE);
                        ch.pipeline().addLast("dec", new NbdClientHandshakeDecoder());
                        ch.pipeline().addLast("queue", new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                inbound.add(msg);
                            }

                            @Override
                            public void channelInactive(ChannelHandlerContext ctx) {
                                inbound.add(CLOSED);
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                inbound.add(cause);
                            }
                        });
                    }
                });
        channel = b.connect(epoll ? new DomainSocketAddress(socket.toString()) : UnixDomainSocketAddress.of(socket))
                .sync().channel();
    }

    Channel channel() {
        return channel;
    }

    /** Writes a message (handshake message, request, or raw ByteBuf) and waits until it is written. */
    void send(Object msg) {
        channel.writeAndFlush(msg).syncUninterruptibly();
    }

    /** Takes the next inbound message, failing after 10 s. */
    Object next() throws InterruptedException {
        Object o = inbound.poll(10, TimeUnit.SECONDS);
        if (o == null) {
            throw new AssertionError("nothing received within 10 s");
        }
        return o;
    }

    /** Takes the next inbound message, which must be of this type. */
    <T> T next(Class<T> type) throws InterruptedException {
        Object o = next();
        if (!type.isInstance(o)) {
            ReferenceCountUtil.release(o);
            throw new AssertionError("expected a " + type.getSimpleName() + ", got " + o);
        }
        return type.cast(o);
    }

    /** Switches to the transmission phase: request encoder and reply decoder replace the handshake codec. */
    void startTransmission(boolean extendedHeaders, NbdReplyDecoder.PayloadLengthResolver resolver) {
        channel.eventLoop().submit(() -> {
            channel.pipeline().addBefore("queue", "reqenc", new NbdRequestEncoder(extendedHeaders));
            channel.pipeline().addBefore("queue", "repdec", new NbdReplyDecoder(extendedHeaders, resolver,
                    NbdReplyDecoder.DEFAULT_MAX_PAYLOAD_LENGTH));
            channel.pipeline().remove("dec");
            channel.pipeline().remove("enc");
        }).syncUninterruptibly();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        Object o;
        while ((o = inbound.poll()) != null) {
            ReferenceCountUtil.release(o);
        }
    }
}
