package io.nbdnetty.codec;

import org.junit.jupiter.api.Test;

import java.util.List;

import static io.nbdnetty.codec.Wire.ascii;
import static io.nbdnetty.codec.Wire.hex;

/**
 * proto.md "Newstyle negotiation", generic option format: C: 64 bits IHAVEOPT (0x49484156454F5054); C: 32 bits,
 * option; C: 32 bits, length of option data (unsigned); C: option data. Layouts of the data from "Option types".
 * Each option is decoded by the server-side decoder (after the client flags) and encoded by the handshake encoder.
 */
class OptionRequestTest {

    private static void assertBothWays(NbdOptionRequest option, byte[] golden) {
        Golden.assertServerDecodesOption(golden, option);
        Golden.assertEncodes(option, golden);
    }

    // "NBD_OPT_EXPORT_NAME (1)": Data: String, name of the export; its length is the option length.
    @Test
    void exportName() {
        assertBothWays(new NbdExportNameOption("disk"), hex("49484156454f5054 | 00000001 | 00000004 |", ascii("disk")));
    }

    @Test
    void exportNameEmptyMeansTheDefaultExport() {
        // "A special, "empty", name (i.e., the length field is zero and no name is specified)"
        assertBothWays(new NbdExportNameOption(""), hex("49484156454f5054 | 00000001 | 00000000"));
    }

    @Test
    void exportNameIsUtf8() {
        // "é" is c3 a9 in UTF-8: length 2.
        assertBothWays(new NbdExportNameOption("é"), hex("49484156454f5054 | 00000001 | 00000002 | c3a9"));
    }

    // "NBD_OPT_ABORT (2)": no data.
    @Test
    void abort() {
        assertBothWays(NbdBareOption.ABORT, hex("49484156454f5054 | 00000002 | 00000000"));
    }

    // "NBD_OPT_LIST (3)": "The client MUST NOT send any additional data with the option".
    @Test
    void list() {
        assertBothWays(NbdBareOption.LIST, hex("49484156454f5054 | 00000003 | 00000000"));
    }

    // "NBD_OPT_STARTTLS (5)": "The client MUST NOT send any additional data with the option."
    @Test
    void starttls() {
        assertBothWays(NbdBareOption.STARTTLS, hex("49484156454f5054 | 00000005 | 00000000"));
    }

    // "NBD_OPT_INFO (6) and NBD_OPT_GO (7)", Data: 32 bits, length of name; String: name of the export;
    // 16 bits, number of information requests; 16 bits x n - list of NBD_INFO information requests.
    @Test
    void infoWithTwoInformationRequests() {
        // name "disk" (4), 2 requests: NBD_INFO_NAME (1), NBD_INFO_BLOCK_SIZE (3). Length 4 + 4 + 2 + 4 = 14.
        assertBothWays(new NbdExportInfoOption(NbdOption.INFO, "disk", List.of(NbdInfoType.NAME,
                NbdInfoType.BLOCK_SIZE)), hex("49484156454f5054 | 00000006 | 0000000e |",
                "00000004", ascii("disk"), "| 0002 | 0001 0003"));
    }

    @Test
    void goWithBlockSizeRequest() {
        // name "disk", 1 request: NBD_INFO_BLOCK_SIZE (3). Length 4 + 4 + 2 + 2 = 12.
        assertBothWays(new NbdExportInfoOption(NbdOption.GO, "disk", List.of(NbdInfoType.BLOCK_SIZE)),
                hex("49484156454f5054 | 00000007 | 0000000c | 00000004", ascii("disk"), "| 0001 | 0003"));
    }

    @Test
    void goForTheDefaultExportWithNoInformationRequests() {
        // "it MAY specify an empty list"; "If no name is specified (i.e. a zero length string is provided)".
        assertBothWays(new NbdExportInfoOption(NbdOption.GO, "", List.of()),
                hex("49484156454f5054 | 00000007 | 00000006 | 00000000 | 0000"));
    }

    @Test
    void goKeepsInformationRequestsItDoesNotKnow() {
        // "The server MUST ignore any information requests it does not understand": the decoder keeps them.
        assertBothWays(new NbdExportInfoOption(NbdOption.GO, "", List.of(NbdInfoType.valueOf(0x1234),
                NbdInfoType.EXPORT)), hex("49484156454f5054 | 00000007 | 0000000a | 00000000 | 0002 | 1234 0000"));
    }

    // "NBD_OPT_STRUCTURED_REPLY (8)": no data.
    @Test
    void structuredReply() {
        assertBothWays(NbdBareOption.STRUCTURED_REPLY, hex("49484156454f5054 | 00000008 | 00000000"));
    }

    // "NBD_OPT_LIST_META_CONTEXT (9)", Data: 32 bits, length of export name; String, name of export;
    // 32 bits, number of queries; zero or more queries, each 32 bits length of query and String, query.
    @Test
    void listMetaContextWithOneQuery() {
        // "disk"; 1 query "base:" (5). Length 4 + 4 + 4 + 4 + 5 = 21.
        assertBothWays(new NbdMetaContextOption(NbdOption.LIST_META_CONTEXT, "disk", List.of("base:")),
                hex("49484156454f5054 | 00000009 | 00000015 | 00000004", ascii("disk"),
                        "| 00000001 | 00000005", ascii("base:")));
    }

    @Test
    void listMetaContextWithNoQueries() {
        // "If zero queries are sent, then the server MUST return all the metadata contexts". Length 4 + 0 + 4.
        assertBothWays(new NbdMetaContextOption(NbdOption.LIST_META_CONTEXT, "", List.of()),
                hex("49484156454f5054 | 00000009 | 00000008 | 00000000 | 00000000"));
    }

    // "NBD_OPT_SET_META_CONTEXT (10)": same data layout.
    @Test
    void setMetaContextWithTwoQueries() {
        // "disk"; "base:allocation" (15) and "qemu:dirty-bitmap:b0" (20). Length 4+4 + 4 + 4+15 + 4+20 = 55.
        assertBothWays(new NbdMetaContextOption(NbdOption.SET_META_CONTEXT, "disk",
                List.of("base:allocation", "qemu:dirty-bitmap:b0")),
                hex("49484156454f5054 | 0000000a | 00000037 | 00000004", ascii("disk"), "| 00000002 |",
                        "0000000f", ascii("base:allocation"), "| 00000014", ascii("qemu:dirty-bitmap:b0")));
    }

    // "NBD_OPT_EXTENDED_HEADERS (11)" (proto-extended-headers.md): no data.
    @Test
    void extendedHeaders() {
        assertBothWays(NbdBareOption.EXTENDED_HEADERS, hex("49484156454f5054 | 0000000b | 00000000"));
    }

    @Test
    void unknownOptionIsPassedOnRawAndNotMalformed() {
        // "The presence of the option length in every option allows the server to skip any options presented by
        // the client that it does not understand."
        assertBothWays(new NbdRawOption(NbdOption.valueOf(0x42), hex("010203"), false),
                hex("49484156454f5054 | 00000042 | 00000003 | 010203"));
    }

    @Test
    void abortWithDataIsHandedOnMalformed() {
        // "NBD_OPT_ABORT": "The client SHOULD NOT send any additional data with the option; however, a server SHOULD
        // ignore any data". The codec flags it; ignoring it is the server's choice.
        Golden.assertServerDecodesOption(hex("49484156454f5054 | 00000002 | 00000001 | ff"),
                new NbdRawOption(NbdOption.ABORT, hex("ff"), true));
    }

    @Test
    void rawOptionEncodesItsDataVerbatim() {
        // A client may need to send a known option with deliberately odd data (tests of servers).
        Golden.assertEncodes(new NbdRawOption(NbdOption.LIST, hex("abcd"), true),
                hex("49484156454f5054 | 00000003 | 00000002 | abcd"));
    }
}
