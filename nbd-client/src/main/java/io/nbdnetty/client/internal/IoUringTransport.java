package io.nbdnetty.client.internal;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringDomainSocketChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringSocketChannel;

/**
 * Netty's io_uring transport, from its optional jars ({@code netty-transport-classes-io_uring} and the native one).
 * Only {@link Transports} touches this class, and only after {@link Transports#ioUringClassesPresent()}: without the
 * jars the rest of the library never loads it.
 */
final class IoUringTransport {
    private IoUringTransport() {
    }

    static boolean isAvailable() {
        return IoUring.isAvailable();
    }

    static Throwable unavailabilityCause() {
        return IoUring.unavailabilityCause();
    }

    static IoHandlerFactory newFactory() {
        return IoUringIoHandler.newFactory();
    }

    static boolean isIoUring(EventLoopGroup group) {
        return Transports.isIoType(group, IoUringIoHandler.class);
    }

    static Class<? extends Channel> socketChannelType(boolean unix) {
        return unix ? IoUringDomainSocketChannel.class : IoUringSocketChannel.class;
    }
}
