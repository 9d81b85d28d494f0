package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.buffer.ByteBufUtil;
import io.netty.util.IllegalReferenceCountException;

import java.util.Objects;

/**
 * {@code NBD_REPLY_TYPE_OFFSET_DATA}: data at an absolute offset (payload: 8-byte offset, then the data).
 *
 * <p>Holds its data, a retained slice of what was received: release the chunk once.
 */
public final class NbdOffsetDataChunk extends NbdReplyChunk implements ByteBufHolder {
    private final long offset;
    private final ByteBuf data;

    /**
     * Creates the chunk; it takes ownership of the data.
     *
     * @param flags the reply flags
     * @param cookie the cookie
     * @param headerOffset the extended header's offset field, 0 in compact mode
     * @param offset the absolute offset of the data
     * @param data the data (at least one byte)
     */
    public NbdOffsetDataChunk(int flags, long cookie, long headerOffset, long offset, ByteBuf data) {
        super(flags, NbdReplyType.OFFSET_DATA, cookie, headerOffset);
        this.offset = offset;
        this.data = Objects.requireNonNull(data, "data");
    }

    /**
     * Returns the absolute offset of the data.
     *
     * @return the offset
     */
    public long offset() {
        return offset;
    }

    /**
     * Returns the data. Same as {@link #content()}.
     *
     * @return the data
     */
    public ByteBuf data() {
        return content();
    }

    @Override
    public long payloadLength() {
        return 8L + data.readableBytes();
    }

    @Override
    public ByteBuf content() {
        if (data.refCnt() <= 0) {
            throw new IllegalReferenceCountException(data.refCnt());
        }
        return data;
    }

    @Override
    public NbdOffsetDataChunk copy() {
        return replace(data.copy());
    }

    @Override
    public NbdOffsetDataChunk duplicate() {
        return replace(data.duplicate());
    }

    @Override
    public NbdOffsetDataChunk retainedDuplicate() {
        return replace(data.retainedDuplicate());
    }

    @Override
    public NbdOffsetDataChunk replace(ByteBuf content) {
        return new NbdOffsetDataChunk(flags(), cookie(), headerOffset(), offset, content);
    }

    @Override
    public int refCnt() {
        return data.refCnt();
    }

    @Override
    public NbdOffsetDataChunk retain() {
        data.retain();
        return this;
    }

    @Override
    public NbdOffsetDataChunk retain(int increment) {
        data.retain(increment);
        return this;
    }

    @Override
    public NbdOffsetDataChunk touch() {
        data.touch();
        return this;
    }

    @Override
    public NbdOffsetDataChunk touch(Object hint) {
        data.touch(hint);
        return this;
    }

    @Override
    public boolean release() {
        return data.release();
    }

    @Override
    public boolean release(int decrement) {
        return data.release(decrement);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NbdOffsetDataChunk c && c.flags() == flags() && c.cookie() == cookie()
                && c.headerOffset() == headerOffset() && c.offset == offset && ByteBufUtil.equals(c.data, data);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(cookie()) * 31 + Long.hashCode(offset);
    }

    @Override
    public String toString() {
        return "NbdOffsetDataChunk[" + header() + ", offset=" + Long.toUnsignedString(offset) + ", length="
                + (data.refCnt() > 0 ? data.readableBytes() : "(released)") + "]";
    }
}
