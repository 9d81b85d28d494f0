package io.nbdnetty.client.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cumulator that puts the JDK engine's input in heap buffers: every byte kept in order, the result on the heap
 * whatever came in, and each input released (the suite's leak detector runs at paranoid).
 */
class NbdTlsCumulatorTest {
    private static final ByteBufAllocator ALLOC = PooledByteBufAllocator.DEFAULT;

    private static ByteBuf direct(String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        return ALLOC.directBuffer(b.length).writeBytes(b);
    }

    @Test
    void directReadsBecomeOneHeapCumulationInOrder() {
        ByteBuf first = direct("record one, ");
        ByteBuf c = NbdTls.HEAP_CUMULATOR.cumulate(ALLOC, Unpooled.EMPTY_BUFFER, first);
        assertTrue(c.hasArray(), "a direct socket read is copied to the heap");
        assertEquals(0, first.refCnt(), "the direct read is released");
        c.skipBytes(7); // the engine consumed part of it
        ByteBuf second = direct("and record two");
        ByteBuf c2 = NbdTls.HEAP_CUMULATOR.cumulate(ALLOC, c, second);
        assertTrue(c2.hasArray());
        assertEquals(0, second.refCnt());
        assertEquals("one, and record two", c2.toString(StandardCharsets.US_ASCII));
        c2.release();
        assertEquals(0, c.refCnt(), "the old cumulation, replaced, is released");
    }

    @Test
    void roomInAHeapCumulationIsUsedAndHeapInputIsTakenAsItIs() {
        ByteBuf heapIn = ALLOC.heapBuffer(64).writeBytes("abc".getBytes(StandardCharsets.US_ASCII));
        ByteBuf c = NbdTls.HEAP_CUMULATOR.cumulate(ALLOC, Unpooled.EMPTY_BUFFER, heapIn);
        assertSame(heapIn, c, "a heap read needs no copy");
        ByteBuf more = direct("def");
        ByteBuf c2 = NbdTls.HEAP_CUMULATOR.cumulate(ALLOC, c, more);
        assertSame(c, c2, "written into the room left");
        assertEquals("abcdef", c2.toString(StandardCharsets.US_ASCII));
        assertEquals(0, more.refCnt());
        ByteBuf shared = c2.retain(); // a cumulation someone else holds is not written into
        ByteBuf c3 = NbdTls.HEAP_CUMULATOR.cumulate(ALLOC, c2, direct("g"));
        assertEquals("abcdefg", c3.toString(StandardCharsets.US_ASCII));
        assertEquals("abcdef", shared.toString(StandardCharsets.US_ASCII));
        shared.release();
        c3.release();
    }
}
