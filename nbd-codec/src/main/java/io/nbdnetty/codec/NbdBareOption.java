package io.nbdnetty.codec;

import java.util.Objects;

/**
 * An option with no data: {@code NBD_OPT_ABORT}, {@code LIST}, {@code STARTTLS}, {@code STRUCTURED_REPLY} or
 * {@code EXTENDED_HEADERS}.
 *
 * @param option the option
 */
public record NbdBareOption(NbdOption option) implements NbdOptionRequest {
    /** NBD_OPT_ABORT. */
    public static final NbdBareOption ABORT = new NbdBareOption(NbdOption.ABORT);
    /** NBD_OPT_LIST. */
    public static final NbdBareOption LIST = new NbdBareOption(NbdOption.LIST);
    /** NBD_OPT_STARTTLS. */
    public static final NbdBareOption STARTTLS = new NbdBareOption(NbdOption.STARTTLS);
    /** NBD_OPT_STRUCTURED_REPLY. */
    public static final NbdBareOption STRUCTURED_REPLY = new NbdBareOption(NbdOption.STRUCTURED_REPLY);
    /** NBD_OPT_EXTENDED_HEADERS. */
    public static final NbdBareOption EXTENDED_HEADERS = new NbdBareOption(NbdOption.EXTENDED_HEADERS);

    /**
     * Checks the argument.
     *
     * @param option the option
     */
    public NbdBareOption {
        Objects.requireNonNull(option, "option");
    }
}
