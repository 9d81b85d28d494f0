package io.nbdnetty.client;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class NbdDurationsTest {
    @Test
    void writesDurationsForPeople() {
        assertEquals("0 ms", NbdDurations.inWords(Duration.ZERO));
        assertEquals("5 µs", NbdDurations.inWords(Duration.ofNanos(5_000)));
        assertEquals("250 ms", NbdDurations.inWords(Duration.ofMillis(250)));
        assertEquals("30 s", NbdDurations.inWords(Duration.ofSeconds(30)));
        assertEquals("1.5 s", NbdDurations.inWords(Duration.ofMillis(1500)));
        assertEquals("2 min", NbdDurations.inWords(Duration.ofMinutes(2)));
        assertEquals("1 min 30 s", NbdDurations.inWords(Duration.ofSeconds(90)));
        assertEquals("2 h 5 min", NbdDurations.inWords(Duration.ofMinutes(125)));
        assertEquals("3 h", NbdDurations.inWords(Duration.ofHours(3)));
        assertThrows(IllegalArgumentException.class, () -> NbdDurations.inWords(Duration.ofSeconds(-1)));
    }
}
