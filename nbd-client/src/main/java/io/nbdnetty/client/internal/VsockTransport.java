package io.nbdnetty.client.internal;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelConfig;
import io.netty.channel.epoll.LinuxSocket;
import io.netty.channel.epoll.Native;
import io.netty.channel.epoll.VSockAddress;

import java.net.SocketAddress;
import java.nio.channels.UnsupportedAddressTypeException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * AF_VSOCK through Netty's epoll transport. Netty 4.2 has the socket calls ({@link LinuxSocket#newVSockStream()},
 * {@link LinuxSocket#connectVSock(VSockAddress)}) and the address ({@link VSockAddress}) but no channel, so
 * {@link Channel} is a small stream channel on top of them: everything but connecting and the addresses is the
 * epoll stream channel's own.
 */
public final class VsockTransport {
    /** VMADDR_CID_HOST: the host, seen from a virtual machine. */
    public static final int CID_HOST = 2;
    /** The port an {@code nbd+vsock} URI without one means, as in libnbd. */
    public static final int DEFAULT_PORT = 10809;

    private static final Pattern NETTY_PREFIX = Pattern.compile(
            "^[A-Za-z0-9]+\\(\\.\\.\\) failed(?: with error\\(-?[0-9]+\\))?: ");

    private VsockTransport() {
    }

    /**
     * Why vsock cannot be used with this group (or here at all), in words; null if it can.
     *
     * @param group the group the channel would be registered on
     */
    public static String unavailable(EventLoopGroup group) {
        if (!Transports.epollAvailable()) {
            Throwable cause = Epoll.unavailabilityCause();
            return "vsock needs Netty's epoll transport (Linux), which is not available here"
                    + (cause != null && cause.getMessage() != null ? ": " + cause.getMessage() : "");
        }
        if (group != null && !Transports.isEpoll(group)) {
            return "vsock needs Netty's epoll transport, but this handle's event loop group is "
                    + (Transports.isIoUring(group) ? "io_uring" : Transports.isNio(group) ? "NIO" : "of another kind")
                    + " (vsock works only on an epoll group)";
        }
        return null;
    }

    /** {@code CID 2 port 10809}, the unsigned numbers as people write them. */
    public static String describe(int cid, int port) {
        return "vsock CID " + Integer.toUnsignedString(cid) + " port " + Integer.toUnsignedString(port);
    }

    /**
     * A connect failure in words: the OS reason without Netty's {@code connectVSock(..) failed:} prefix or the
     * address it appends, and a hint where the reason alone does not say what to do.
     */
    public static String reason(Throwable cause) {
        // Netty wraps the OS error in an exception that appends the address: the innermost message is the OS's.
        Throwable c = cause;
        while (c.getCause() != null && c.getCause() != c && c.getCause().getMessage() != null) {
            c = c.getCause();
        }
        String m = c.getMessage() != null ? c.getMessage() : "failed";
        int at = m.indexOf(": VSockAddress");
        if (at >= 0) {
            m = m.substring(0, at);
        }
        Matcher prefix = NETTY_PREFIX.matcher(m);
        if (prefix.find()) {
            m = m.substring(prefix.end());
        }
        String lower = m.toLowerCase(Locale.ROOT);
        if (lower.contains("address family not supported")) {
            return m + " (this kernel has no AF_VSOCK support: the vsock module is not loaded)";
        }
        if (lower.contains("no such device")) {
            return m + " (no vsock transport reaches that CID here: in a guest only the host, CID 2, is reachable;"
                    + " on a host a guest CID needs vhost_vsock, and CID 1 needs the vsock_loopback module)";
        }
        if (lower.contains("timed out")) {
            return m + " (nothing answered at that CID)";
        }
        return m;
    }

    /**
     * An AF_VSOCK stream channel on the epoll transport: connect it to a {@link VSockAddress}. Register it on an
     * epoll event loop only. Thread-safety as any Netty channel.
     */
    public static final class Channel extends AbstractEpollStreamChannel {
        private final EpollChannelConfig config = new EpollChannelConfig(this) {
        };
        private volatile VSockAddress remote;

        /**
         * Opens a non-blocking AF_VSOCK socket.
         *
         * @throws io.netty.channel.ChannelException if the kernel has no AF_VSOCK
         */
        Channel() {
            super(LinuxSocket.newVSockStream(), false);
        }

        @Override
        public EpollChannelConfig config() {
            return config;
        }

        @Override
        protected boolean doConnect(SocketAddress remoteAddress, SocketAddress localAddress) throws Exception {
            if (!(remoteAddress instanceof VSockAddress address)) {
                throw new UnsupportedAddressTypeException();
            }
            boolean success = false;
            try {
                if (localAddress instanceof VSockAddress local) {
                    socket.bindVSock(local);
                }
                boolean connected = socket.connectVSock(address);
                remote = address;
                if (!connected) {
                    // In progress: the unsafe finishes it when the socket becomes writable (or fails).
                    setFlag(Native.EPOLLOUT);
                }
                success = true;
                return connected;
            } finally {
                if (!success) {
                    doClose();
                }
            }
        }

        @Override
        protected SocketAddress localAddress0() {
            if (!isOpen()) {
                return null;
            }
            try {
                return socket.localVSockAddress();
            } catch (RuntimeException e) {
                return null;
            }
        }

        @Override
        protected SocketAddress remoteAddress0() {
            return remote;
        }

        @Override
        public String toString() {
            VSockAddress r = remote;
            return "vsock channel" + (r == null ? "" : " to " + describe(r.getCid(), r.getPort()));
        }
    }
}
