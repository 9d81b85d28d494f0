package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import io.netty.buffer.Unpooled;

import java.util.Objects;

/**
 * A simple reply: magic, error, cookie, and for a successful READ the data. The data's length is not on the wire: the
 * decoder learns it from the matching request (see {@link NbdReplyDecoder.PayloadLengthResolver}).
 *
 * <p>Holds its data: release the reply once.
 */
public final class NbdSimpleReply extends DefaultByteBufHolder implements NbdReply {
    private final long cookie;
    private final NbdErrno error;

    /**
     * Creates a reply without data.
     *
     * @param cookie the cookie
     * @param error the error, {@link NbdErrno#OK} for success
     */
    public NbdSimpleReply(long cookie, NbdErrno error) {
        this(cookie, error, Unpooled.EMPTY_BUFFER);
    }

    /**
     * Creates a reply; it takes ownership of the data.
     *
     * @param cookie the cookie
     * @param error the error, {@link NbdErrno#OK} for success
     * @param data the READ data, empty if none
     */
    public NbdSimpleReply(long cookie, NbdErrno error, ByteBuf data) {
        super(data);
        this.cookie = cookie;
        this.error = Objects.requireNonNull(error, "error");
    }

    @Override
    public long cookie() {
        return cookie;
    }

    /**
     * Returns the error ({@link NbdErrno#OK} for success).
     *
     * @return the error
     */
    public NbdErrno error() {
        return error;
    }

    /**
     * Returns the data (empty if none). Same as {@link #content()}.
     *
     * @return the data
     */
    public ByteBuf data() {
        return content();
    }

    @Override
    public NbdSimpleReply replace(ByteBuf content) {
        return new NbdSimpleReply(cookie, error, content);
    }

    @Override
    public NbdSimpleReply retain() {
        super.retain();
        return this;
    }

    @Override
    public NbdSimpleReply retain(int increment) {
        super.retain(increment);
        return this;
    }

    @Override
    public NbdSimpleReply touch() {
        super.touch();
        return this;
    }

    @Override
    public NbdSimpleReply touch(Object hint) {
        super.touch(hint);
        return this;
    }

    @Override
    public NbdSimpleReply copy() {
        return replace(content().copy());
    }

    @Override
    public NbdSimpleReply duplicate() {
        return replace(content().duplicate());
    }

    @Override
    public NbdSimpleReply retainedDuplicate() {
        return replace(content().retainedDuplicate());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NbdSimpleReply r && r.cookie == cookie && r.error.equals(error) && super.equals(o);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(cookie);
    }

    @Override
    public String toString() {
        return "NbdSimpleReply[cookie=" + Long.toUnsignedString(cookie) + ", error=" + error
                + (refCnt() <= 0 ? ", data released" : content().isReadable() ? ", data="
                + content().readableBytes() : "") + "]";
    }
}
