package io.nbdnetty.client.copy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The copy engine's zero-block scan ({@code nbd copy --sparse}), which decides what becomes a hole. */
class ZeroScanTest {

    /** A composite of a direct and a heap component, as the reply decoder hands over data that spans reads. */
    private static ByteBuf composite(int directLength, int heapLength) {
        CompositeByteBuf c = UnpooledByteBufAllocator.DEFAULT.compositeBuffer();
        c.addComponent(true, Unpooled.directBuffer(directLength).writeZero(directLength));
        c.addComponent(true, Unpooled.buffer(heapLength).writeZero(heapLength));
        return c;
    }

    @Test
    void everyNonZeroByteIsSeenWhereverItIs() {
        int a = 70_000;
        int b = 150_001;
        ByteBuf buf = composite(a, b);
        try {
            assertTrue(Copier.isZero(buf, 0, a + b));
            int[] positions = {0, 7, 8, 65_535, 65_536, a - 1, a, a + 1, a + 65_536, a + b - 1};
            for (int p : positions) {
                buf.setByte(p, 1);
                assertFalse(Copier.isZero(buf, 0, a + b), "byte at " + p);
                // A range that ends just before the byte, and one that starts just after it, are zero.
                assertTrue(Copier.isZero(buf, 0, p), "before " + p);
                assertTrue(Copier.isZero(buf, p + 1, a + b - p - 1), "after " + p);
                assertFalse(Copier.isZero(buf, p, 1), "just " + p);
                buf.setByte(p, 0);
            }
            assertTrue(Copier.isZero(buf, 0, a + b));
            assertEquals(0, buf.readerIndex());
        } finally {
            buf.release();
        }
    }

    @Test
    void emptyRangeIsZero() {
        ByteBuf buf = Unpooled.wrappedBuffer(new byte[] {1, 2, 3});
        try {
            assertTrue(Copier.isZero(buf, 1, 0));
            assertFalse(Copier.isZero(buf, 0, 3));
        } finally {
            buf.release();
        }
    }
}
