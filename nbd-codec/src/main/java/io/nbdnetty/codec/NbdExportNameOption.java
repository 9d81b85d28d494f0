package io.nbdnetty.codec;

import java.util.Objects;

/**
 * {@code NBD_OPT_EXPORT_NAME}: the export name as the whole payload. The server answers with an {@link
 * NbdExportNameReply} (or closes the connection).
 *
 * @param exportName the export name (at most 4096 bytes of UTF-8)
 */
public record NbdExportNameOption(String exportName) implements NbdOptionRequest {
    /**
     * Checks the argument.
     *
     * @param exportName the name
     */
    public NbdExportNameOption {
        Objects.requireNonNull(exportName, "exportName");
    }

    @Override
    public NbdOption option() {
        return NbdOption.EXPORT_NAME;
    }
}
