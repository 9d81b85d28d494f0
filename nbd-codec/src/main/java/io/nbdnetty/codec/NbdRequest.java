package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import io.netty.buffer.Unpooled;

import java.util.Objects;

/**
 * A transmission-phase request: flags, command, cookie, offset, length, and for commands that carry one (WRITE, or
 * any command with {@link NbdCommandFlags#PAYLOAD_LEN} under extended headers) a payload.
 *
 * <p>{@link #length()} is the header's length field as it goes on the wire: the payload length for WRITE (and for
 * PAYLOAD_LEN requests), the effect length otherwise. In compact headers it must fit 32 bits; the encoder checks.
 *
 * <p>The request owns its payload: whoever holds the request releases it once (writing it to a channel does).
 */
public final class NbdRequest extends DefaultByteBufHolder {
    private final int flags;
    private final NbdCommandType type;
    private final long cookie;
    private final long offset;
    private final long length;

    /**
     * Creates a request without a payload.
     *
     * @param flags the {@link NbdCommandFlags}, 16 bits
     * @param type the command
     * @param cookie the cookie the reply will carry
     * @param offset the offset in the export
     * @param length the effect length
     */
    public NbdRequest(int flags, NbdCommandType type, long cookie, long offset, long length) {
        this(flags, type, cookie, offset, length, Unpooled.EMPTY_BUFFER);
    }

    /**
     * Creates a request; it takes ownership of the payload.
     *
     * @param flags the {@link NbdCommandFlags}, 16 bits
     * @param type the command
     * @param cookie the cookie the reply will carry
     * @param offset the offset in the export
     * @param length the length field (see the class comment)
     * @param payload the payload, empty if none
     */
    public NbdRequest(int flags, NbdCommandType type, long cookie, long offset, long length, ByteBuf payload) {
        super(payload);
        NbdCodecUtil.checkUnsigned16(flags, "flags");
        this.flags = flags;
        this.type = Objects.requireNonNull(type, "type");
        this.cookie = cookie;
        this.offset = offset;
        this.length = length;
    }

    /**
     * Returns the command flags.
     *
     * @return the {@link NbdCommandFlags}
     */
    public int flags() {
        return flags;
    }

    /**
     * Returns the command.
     *
     * @return the command type
     */
    public NbdCommandType type() {
        return type;
    }

    /**
     * Returns the cookie.
     *
     * @return the cookie
     */
    public long cookie() {
        return cookie;
    }

    /**
     * Returns the offset (unsigned).
     *
     * @return the offset
     */
    public long offset() {
        return offset;
    }

    /**
     * Returns the header's length field (unsigned).
     *
     * @return the length
     */
    public long length() {
        return length;
    }

    /**
     * Returns the payload (empty if none). Same as {@link #content()}.
     *
     * @return the payload
     */
    public ByteBuf payload() {
        return content();
    }

    @Override
    public NbdRequest replace(ByteBuf content) {
        return new NbdRequest(flags, type, cookie, offset, length, content);
    }

    @Override
    public NbdRequest retain() {
        super.retain();
        return this;
    }

    @Override
    public NbdRequest retain(int increment) {
        super.retain(increment);
        return this;
    }

    @Override
    public NbdRequest touch() {
        super.touch();
        return this;
    }

    @Override
    public NbdRequest touch(Object hint) {
        super.touch(hint);
        return this;
    }

    @Override
    public NbdRequest copy() {
        return replace(content().copy());
    }

    @Override
    public NbdRequest duplicate() {
        return replace(content().duplicate());
    }

    @Override
    public NbdRequest retainedDuplicate() {
        return replace(content().retainedDuplicate());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NbdRequest r && r.flags == flags && r.type.equals(type) && r.cookie == cookie
                && r.offset == offset && r.length == length && super.equals(o);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(cookie) * 31 + type.hashCode();
    }

    @Override
    public String toString() {
        return "NbdRequest[" + type + ", flags=" + NbdCommandFlags.toString(flags) + ", cookie="
                + Long.toUnsignedString(cookie) + ", offset=" + Long.toUnsignedString(offset) + ", length="
                + Long.toUnsignedString(length) + (refCnt() <= 0 ? ", payload released"
                : content().isReadable() ? ", payload=" + content().readableBytes() : "") + "]";
    }
}
