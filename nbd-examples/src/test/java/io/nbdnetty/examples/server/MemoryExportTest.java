package io.nbdnetty.examples.server;

import io.nbdnetty.codec.NbdStateFlags;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The sparse memory export: lazy allocation, and what base:allocation reports. */
class MemoryExportTest {
    private static final long HOLE = NbdStateFlags.HOLE | NbdStateFlags.ZERO;

    private static ByteBuf read(MemoryExport e, long offset, int length) {
        ByteBuf b = Unpooled.buffer(length);
        e.read(offset, length, b);
        return b;
    }

    @Test
    void unwrittenMemoryIsAHoleOfZeroes() {
        MemoryExport e = new MemoryExport(1 << 20, 4096);
        assertArrayEquals(new long[] {1 << 20, HOLE}, e.blockStatus(0, 1 << 20, 100));
        ByteBuf b = read(e, 1000, 5000);
        assertEquals(Unpooled.buffer().writeZero(5000), b);
        b.release();
        assertEquals(0, e.allocatedBytes());
    }

    @Test
    void writesAllocateWholeChunksAndReadBack() {
        MemoryExport e = new MemoryExport(64 * 1024, 4096);
        ByteBuf data = Unpooled.buffer().writeBytes(new byte[] {1, 2, 3, 4, 5});
        e.write(4094, data, false); // straddles two chunks
        assertEquals(8192, e.allocatedBytes());
        assertArrayEquals(new long[] {8192, 0, 64 * 1024 - 8192, HOLE}, e.blockStatus(0, 64 * 1024, 100));
        ByteBuf b = read(e, 4094, 5);
        assertEquals(data, b);
        b.release();
        data.release();
        // Clipped to the range asked, and to the number of extents asked.
        assertArrayEquals(new long[] {96, 0}, e.blockStatus(4000, 96, 100));
        assertArrayEquals(new long[] {192, 0, 200, HOLE}, e.blockStatus(8000, 392, 100));
        assertArrayEquals(new long[] {192, 0}, e.blockStatus(8000, 10000, 1));
    }

    @Test
    void trimFreesWholeChunksAndZeroesPartialOnes() {
        MemoryExport e = new MemoryExport(16384, 4096);
        ByteBuf ones = Unpooled.buffer().writeBytes(new byte[16384]).setByte(0, 1);
        for (int i = 0; i < 16384; i++) {
            ones.setByte(i, 1);
        }
        e.write(0, ones, false);
        ones.release();
        e.trim(2048, 8192, false); // half of chunk 0, all of chunk 1, half of chunk 2
        assertEquals(3 * 4096, e.allocatedBytes());
        assertArrayEquals(new long[] {4096, 0, 4096, HOLE, 8192, 0}, e.blockStatus(0, 16384, 100));
        ByteBuf b = read(e, 0, 16384);
        for (int i = 0; i < 16384; i++) {
            assertEquals(i >= 2048 && i < 10240 ? 0 : 1, b.getByte(i), "byte " + i);
        }
        b.release();
        // NO_HOLE zeroing keeps (or makes) the range allocated.
        e.writeZeroes(4096, 4096, false, false);
        assertArrayEquals(new long[] {16384, 0}, e.blockStatus(0, 16384, 100));
        // The last chunk of an export whose size is not a multiple of the chunk is freed whole.
        MemoryExport odd = new MemoryExport(5000, 4096);
        odd.write(4096, Unpooled.wrappedBuffer(new byte[] {9}), false);
        odd.writeZeroes(4096, 904, true, false);
        assertEquals(0, odd.allocatedBytes());
    }

    @Test
    void rejectsImpossibleSizes() {
        assertThrows(IllegalArgumentException.class, () -> new MemoryExport(-1));
        assertThrows(IllegalArgumentException.class, () -> new MemoryExport(1024, 1000));
        assertThrows(IllegalArgumentException.class, () -> new MemoryExport(Long.MAX_VALUE, 512));
    }
}
