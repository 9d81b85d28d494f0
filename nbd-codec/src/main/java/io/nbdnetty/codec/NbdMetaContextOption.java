package io.nbdnetty.codec;

import java.util.List;
import java.util.Objects;

/**
 * {@code NBD_OPT_LIST_META_CONTEXT} or {@code NBD_OPT_SET_META_CONTEXT}: export name length and name, number of
 * queries (32 bits), and each query as length (32 bits) and string.
 *
 * @param option {@link NbdOption#LIST_META_CONTEXT} or {@link NbdOption#SET_META_CONTEXT}
 * @param exportName the export the contexts are for (the encoder refuses more than 4096 bytes of UTF-8)
 * @param queries the queries, e.g. {@code base:allocation} or {@code qemu:dirty-bitmap:}
 */
public record NbdMetaContextOption(NbdOption option, String exportName, List<String> queries)
        implements NbdOptionRequest {
    /**
     * Checks the arguments.
     *
     * @param option the option
     * @param exportName the name
     * @param queries the queries
     */
    public NbdMetaContextOption {
        if (!NbdOption.LIST_META_CONTEXT.equals(option) && !NbdOption.SET_META_CONTEXT.equals(option)) {
            throw new IllegalArgumentException(
                    "option must be NBD_OPT_LIST_META_CONTEXT or NBD_OPT_SET_META_CONTEXT: " + option);
        }
        Objects.requireNonNull(exportName, "exportName");
        queries = List.copyOf(queries);
    }
}
