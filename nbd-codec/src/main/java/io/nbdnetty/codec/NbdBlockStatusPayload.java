package io.nbdnetty.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.util.Arrays;

/**
 * The payload of a filtered {@code NBD_CMD_BLOCK_STATUS} (proto-extended-headers.md, "NBD_CMD_BLOCK_STATUS"): with
 * extended headers, a client that sees {@link NbdTransmissionFlags#BLOCK_STATUS_PAYLOAD} may set {@link
 * NbdCommandFlags#PAYLOAD_LEN} and send, instead of an effect length in the header,
 *
 * <pre>
 * C: 64 bits, effect length
 * C: n * 32 bits, list of metacontext ids to use
 * </pre>
 *
 * <p>so that the server answers only for those contexts. The header's length field is then the payload length,
 * {@code 8 + 4 * n}. This class only lays out and reads those bytes; which ids are valid is the peers' business.
 * Immutable and thread-safe.
 */
public final class NbdBlockStatusPayload {
    /** Bytes before the ids: the 64-bit effect length. */
    public static final int EFFECT_LENGTH_BYTES = 8;

    private final long effectLength;
    private final int[] contextIds;

    /**
     * Creates a payload.
     *
     * @param effectLength the effect length (unsigned)
     * @param contextIds the metadata context ids, in the order they go on the wire; copied
     */
    public NbdBlockStatusPayload(long effectLength, int... contextIds) {
        this.effectLength = effectLength;
        this.contextIds = contextIds.clone();
    }

    /**
     * Returns the effect length.
     *
     * @return the effect length (unsigned)
     */
    public long effectLength() {
        return effectLength;
    }

    /**
     * Returns the context ids.
     *
     * @return a copy of the ids, in wire order
     */
    public int[] contextIds() {
        return contextIds.clone();
    }

    /**
     * Returns how many context ids the payload names.
     *
     * @return the number of ids
     */
    public int contextCount() {
        return contextIds.length;
    }

    /**
     * Returns the payload length for this many ids: the value of the request header's length field.
     *
     * @param ids the number of context ids
     * @return {@code 8 + 4 * ids}
     */
    public static int length(int ids) {
        return EFFECT_LENGTH_BYTES + 4 * ids;
    }

    /**
     * Returns this payload's length on the wire.
     *
     * @return {@code 8 + 4 * contextCount()}
     */
    public int length() {
        return length(contextIds.length);
    }

    /**
     * Writes the payload to a new buffer.
     *
     * @param alloc the allocator
     * @return the payload, which the caller owns
     */
    public ByteBuf encode(ByteBufAllocator alloc) {
        ByteBuf out = alloc.buffer(length());
        writeTo(out);
        return out;
    }

    /**
     * Appends the payload to a buffer (for instance right after a request header).
     *
     * @param out where to write
     */
    public void writeTo(ByteBuf out) {
        out.writeLong(effectLength);
        for (int id : contextIds) {
            out.writeInt(id);
        }
    }

    /**
     * Reads a payload from the readable bytes of a buffer, which is not changed.
     *
     * @param payload the request's payload
     * @return the payload
     * @throws NbdMalformedMessageException if the length is not {@code 8 + 4 * n} for some {@code n >= 0}; whether
     *     {@code n = 0} is acceptable is for the server to decide
     */
    public static NbdBlockStatusPayload decode(ByteBuf payload) {
        int n = payload.readableBytes();
        if (n < EFFECT_LENGTH_BYTES || (n - EFFECT_LENGTH_BYTES) % 4 != 0) {
            throw new NbdMalformedMessageException("block status payload of " + n
                    + " bytes: expected 8 bytes of effect length and then 4 bytes per metadata context id", 0);
        }
        int at = payload.readerIndex();
        int[] ids = new int[(n - EFFECT_LENGTH_BYTES) / 4];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = payload.getInt(at + EFFECT_LENGTH_BYTES + 4 * i);
        }
        return new NbdBlockStatusPayload(payload.getLong(at), ids);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NbdBlockStatusPayload p && p.effectLength == effectLength
                && Arrays.equals(p.contextIds, contextIds);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(effectLength) * 31 + Arrays.hashCode(contextIds);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("NbdBlockStatusPayload[effectLength=")
                .append(Long.toUnsignedString(effectLength)).append(", contextIds=[");
        for (int i = 0; i < contextIds.length; i++) {
            b.append(i == 0 ? "" : ", ").append(Integer.toUnsignedString(contextIds[i]));
        }
        return b.append("]]").toString();
    }
}
