package io.nbdnetty.examples.docs;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * docs/libnbd-map.md must have a row for every libnbd call listed in docs/tools/libnbd-calls.tsv (extracted from
 * libnbd's API.ml by docs/tools/libnbd_calls.py), and every row must give a Java equivalent or a reason.
 */
class LibnbdMapTest {
    private static final Pattern ROW = Pattern.compile("^\\|\\s*`([a-z0-9_]+)`\\s*\\|(.*)$");

    @Test
    void everyLibnbdCallHasARow() throws IOException {
        Path root = DocSnippetsTest.root();
        List<String> calls = new ArrayList<>();
        for (String line : Files.readAllLines(root.resolve("docs/tools/libnbd-calls.tsv"))) {
            if (!line.isBlank() && !line.startsWith("#")) {
                calls.add(line.split("\t")[0]);
            }
        }
        assertTrue(calls.size() > 100, "the call list looks truncated: " + calls.size());
        List<String> rows = new ArrayList<>();
        List<String> empty = new ArrayList<>();
        for (String line : Files.readAllLines(root.resolve("docs/libnbd-map.md"))) {
            Matcher m = ROW.matcher(line);
            if (m.matches()) {
                rows.add(m.group(1));
                String[] cells = m.group(2).split("\\|");
                if (cells.length < 2 || cells[cells.length - 1].isBlank() && cells[0].isBlank()) {
                    empty.add(m.group(1));
                }
            }
        }
        List<String> missing = new ArrayList<>(calls);
        missing.removeAll(rows);
        assertEquals(List.of(), missing, "libnbd calls without a row in docs/libnbd-map.md");
        assertEquals(List.of(), empty, "rows without an equivalent or a reason");
    }

    /** The calls libnbd 1.22's libnbd.h has beyond the vendored (1.16-era) API.ml. */
    static final List<String> LIBNBD_1_22_NEW_CALLS = List.of("aio_block_status_64", "aio_block_status_filter",
            "aio_opt_extended_headers", "block_status_64", "block_status_filter", "can_block_status_payload",
            "get_extended_headers_negotiated", "get_request_extended_headers", "get_socket_activation_name",
            "get_subprocess_pid", "get_tls_hostname", "is_uri", "opt_extended_headers",
            "set_request_extended_headers", "set_socket_activation_name", "set_tls_hostname");

    @Test
    void theCallListReachesLibnbd122() throws IOException {
        List<String> calls = new ArrayList<>();
        for (String line : Files.readAllLines(DocSnippetsTest.root().resolve("docs/tools/libnbd-calls.tsv"))) {
            if (!line.isBlank() && !line.startsWith("#")) {
                calls.add(line.split("\t")[0]);
            }
        }
        List<String> absent = new ArrayList<>(LIBNBD_1_22_NEW_CALLS);
        absent.removeAll(calls);
        assertEquals(List.of(), absent, "libnbd 1.22 calls missing from docs/tools/libnbd-calls.tsv");
        assertEquals(calls.size(), new java.util.HashSet<>(calls).size(), "a call is listed twice: " + calls);
    }
}
