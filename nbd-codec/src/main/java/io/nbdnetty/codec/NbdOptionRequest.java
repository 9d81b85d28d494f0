package io.nbdnetty.codec;

/**
 * An option request of the newstyle handshake: {@code IHAVEOPT}, option, length, data. One record per payload layout.
 */
public sealed interface NbdOptionRequest extends NbdHandshakeMessage permits NbdBareOption, NbdExportNameOption,
        NbdExportInfoOption, NbdMetaContextOption, NbdRawOption {
    /**
     * Returns the option.
     *
     * @return the option
     */
    NbdOption option();
}
