package io.nbdnetty.client;

import io.nbdnetty.codec.NbdAckReply;
import io.nbdnetty.codec.NbdConstants;
import io.nbdnetty.codec.NbdErrorReply;
import io.nbdnetty.codec.NbdHandshakeEncoder;
import io.nbdnetty.codec.NbdHandshakeFlags;
import io.nbdnetty.codec.NbdHandshakeMessage;
import io.nbdnetty.codec.NbdInfo;
import io.nbdnetty.codec.NbdInfoReply;
import io.nbdnetty.codec.NbdMetaContextReply;
import io.nbdnetty.codec.NbdNewstyleGreeting;
import io.nbdnetty.codec.NbdOption;
import io.nbdnetty.codec.NbdOptionReplyType;
import io.nbdnetty.codec.NbdReply;
import io.nbdnetty.codec.NbdReplyEncoder;
import io.nbdnetty.codec.NbdTransmissionFlags;
import io.nbdnetty.testing.peers.UnixSockets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ReferenceCountUtil;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A scripted NBD "server" for hostile-server tests: a blocking Unix socket server in a thread that accepts one
 * connection and runs a {@link Script} on it. Server messages are built with the codec's encoders only; client
 * messages are parsed by hand. Close it to stop the thread and delete its directory.
 */
final class ScriptedServer implements AutoCloseable {
    /** What the server does with its one connection. */
    @FunctionalInterface
    interface Script {
        void run(Peer peer) throws Exception;
    }

    /** An option request as received. */
    record Opt(int code, byte[] data) {
        NbdOption option() {
            return NbdOption.valueOf(code);
        }
    }

    /** A compact (28-byte header) request as received; WRITE payload read too. */
    record Req(int flags, int type, long cookie, long offset, long length, byte[] payload) {
    }

    static final int DEFAULT_TX_FLAGS = NbdTransmissionFlags.HAS_FLAGS | NbdTransmissionFlags.SEND_FLUSH
            | NbdTransmissionFlags.SEND_DF | NbdTransmissionFlags.SEND_TRIM;

    private final Path dir;
    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread thread;
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private volatile SocketChannel accepted;

    private ScriptedServer(Script script, boolean tcp) throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "nbd-scripted-");
        socket = dir.resolve("s.sock");
        if (tcp) {
            server = ServerSocketChannel.open(StandardProtocolFamily.INET);
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        } else {
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
        }
        thread = new Thread(() -> {
            try (SocketChannel ch = server.accept()) {
                accepted = ch;
                script.run(new Peer(ch));
                done.complete(null);
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        }, "scripted-nbd-server");
        thread.setDaemon(true);
        thread.start();
    }

    static ScriptedServer start(Script script) throws IOException {
        return new ScriptedServer(script, false);
    }

    /** The same on a TCP loopback port. */
    static ScriptedServer startTcp(Script script) throws IOException {
        return new ScriptedServer(script, true);
    }

    /** Where a Unix socket server listens. */
    Path socketPath() {
        return socket;
    }

    /** Where a TCP server listens. */
    InetSocketAddress tcpAddress() throws IOException {
        return (InetSocketAddress) server.getLocalAddress();
    }

    SocketChannel connect() throws IOException {
        if (server.getLocalAddress() instanceof InetSocketAddress a) {
            return SocketChannel.open(a);
        }
        return UnixSockets.connect(socket);
    }

    /** Waits for the script to finish and rethrows what it threw. */
    void awaitScript() throws Exception {
        done.get(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws IOException {
        SocketChannel ch = accepted;
        if (ch != null) {
            ch.close();
        }
        server.close();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Files.deleteIfExists(socket);
        Files.deleteIfExists(dir);
    }

    /** The server side of one connection. */
    static final class Peer {
        final SocketChannel ch;
        boolean extended;

        Peer(SocketChannel ch) {
            this.ch = ch;
        }

        void send(NbdHandshakeMessage msg) throws IOException {
            ByteBuf b = Unpooled.buffer();
            try {
                NbdHandshakeEncoder.encode(msg, b);
                write(b);
            } finally {
                b.release();
            }
        }

        void send(NbdReply reply) throws IOException {
            List<Object> out = new ArrayList<>();
            try {
                NbdReplyEncoder.encode(UnpooledByteBufAllocator.DEFAULT, reply, out, extended);
                for (Object o : out) {
                    write((ByteBuf) o);
                }
            } finally {
                out.forEach(ReferenceCountUtil::release);
                ReferenceCountUtil.release(reply);
            }
        }

        /** Sends a reply's bytes, all but the last {@code keep}; for "server stops mid-reply". */
        void sendTruncated(NbdReply reply, int keep) throws IOException {
            List<Object> out = new ArrayList<>();
            ByteBuf all = Unpooled.buffer();
            try {
                NbdReplyEncoder.encode(UnpooledByteBufAllocator.DEFAULT, reply, out, extended);
                for (Object o : out) {
                    all.writeBytes((ByteBuf) o);
                }
                write(all.slice(0, all.readableBytes() - keep));
            } finally {
                out.forEach(ReferenceCountUtil::release);
                ReferenceCountUtil.release(reply);
                all.release();
            }
        }

        void sendRaw(byte[] bytes) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }

        private void write(ByteBuf b) throws IOException {
            ByteBuffer nio = b.nioBuffer();
            while (nio.hasRemaining()) {
                ch.write(nio);
            }
        }

        ByteBuffer readFully(int n) throws IOException {
            ByteBuffer b = ByteBuffer.allocate(n);
            while (b.hasRemaining()) {
                if (ch.read(b) < 0) {
                    throw new EOFException("client closed after " + b.position() + " of " + n + " bytes");
                }
            }
            return b.flip();
        }

        /** Reads until the client closes; returns how many bytes it sent meanwhile. */
        long awaitClientClose() throws IOException {
            ByteBuffer b = ByteBuffer.allocate(4096);
            long n = 0;
            try {
                int r;
                while ((r = ch.read(b.clear())) >= 0) {
                    n += r;
                }
            } catch (IOException e) {
                // reset by peer counts as closed
            }
            return n;
        }

        void close() throws IOException {
            ch.close();
        }

        void greeting(int handshakeFlags) throws IOException {
            send(new NbdNewstyleGreeting(handshakeFlags));
        }

        int readClientFlags() throws IOException {
            return readFully(4).getInt();
        }

        Opt readOption() throws IOException {
            ByteBuffer h = readFully(NbdConstants.OPTION_REQUEST_HEADER_LENGTH);
            long magic = h.getLong();
            if (magic != NbdConstants.IHAVEOPT) {
                throw new IOException("bad option magic " + Long.toHexString(magic));
            }
            int code = h.getInt();
            int length = h.getInt();
            byte[] data = new byte[length];
            readFully(length).get(data);
            return new Opt(code, data);
        }

        Req readRequest() throws IOException {
            ByteBuffer h = readFully(NbdConstants.REQUEST_HEADER_LENGTH);
            int magic = h.getInt();
            if (magic != NbdConstants.REQUEST_MAGIC) {
                throw new IOException("bad request magic " + Integer.toHexString(magic));
            }
            int flags = Short.toUnsignedInt(h.getShort());
            int type = Short.toUnsignedInt(h.getShort());
            long cookie = h.getLong();
            long offset = h.getLong();
            long length = Integer.toUnsignedLong(h.getInt());
            byte[] payload = new byte[0];
            if (type == 1) {
                payload = new byte[(int) length];
                readFully((int) length).get(payload);
            }
            return new Req(flags, type, cookie, offset, length, payload);
        }

        void refuse(Opt o) throws IOException {
            send(new NbdErrorReply(o.option(), NbdOptionReplyType.ERR_UNSUP, ""));
        }

        /**
         * A well-behaved fixed-newstyle handshake up to and including the GO ACK: refuses extended headers, grants
         * structured replies if {@code structured}, grants the given contexts (name to id) whatever is asked.
         */
        void handshake(boolean structured, Map<String, Integer> contexts, long size, int txFlags)
                throws IOException {
            greeting(NbdHandshakeFlags.FIXED_NEWSTYLE | NbdHandshakeFlags.NO_ZEROES);
            readClientFlags();
            while (true) {
                Opt o = readOption();
                NbdOption opt = o.option();
                if (opt.equals(NbdOption.STRUCTURED_REPLY) && structured) {
                    send(new NbdAckReply(opt));
                } else if (opt.equals(NbdOption.SET_META_CONTEXT) && structured) {
                    for (Map.Entry<String, Integer> e : contexts.entrySet()) {
                        send(new NbdMetaContextReply(opt, e.getValue(), e.getKey()));
                    }
                    send(new NbdAckReply(opt));
                } else if (opt.equals(NbdOption.GO)) {
                    send(new NbdInfoReply(opt, new NbdInfo.Export(size, txFlags)));
                    send(new NbdAckReply(opt));
                    return;
                } else {
                    refuse(o);
                }
            }
        }

        void handshake(boolean structured) throws IOException {
            handshake(structured, Map.of(), 1 << 20, DEFAULT_TX_FLAGS);
        }
    }
}
