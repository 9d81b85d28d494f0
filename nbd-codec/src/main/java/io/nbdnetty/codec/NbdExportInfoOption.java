package io.nbdnetty.codec;

import java.util.List;
import java.util.Objects;

/**
 * {@code NBD_OPT_INFO} or {@code NBD_OPT_GO}: name length (32 bits), name, number of information requests (16 bits),
 * and the requested {@link NbdInfoType}s (16 bits each).
 *
 * @param option {@link NbdOption#INFO} or {@link NbdOption#GO}
 * @param exportName the export name (at most 4096 bytes of UTF-8)
 * @param infoRequests the information the client asks for
 */
public record NbdExportInfoOption(NbdOption option, String exportName, List<NbdInfoType> infoRequests)
        implements NbdOptionRequest {
    /**
     * Checks the arguments.
     *
     * @param option the option
     * @param exportName the name
     * @param infoRequests the requests
     */
    public NbdExportInfoOption {
        if (!NbdOption.INFO.equals(option) && !NbdOption.GO.equals(option)) {
            throw new IllegalArgumentException("option must be NBD_OPT_INFO or NBD_OPT_GO: " + option);
        }
        Objects.requireNonNull(exportName, "exportName");
        infoRequests = List.copyOf(infoRequests);
        if (infoRequests.size() > 0xffff) {
            throw new IllegalArgumentException("too many information requests: " + infoRequests.size());
        }
    }
}
