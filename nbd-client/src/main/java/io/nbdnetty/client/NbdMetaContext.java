package io.nbdnetty.client;

import java.util.Objects;

/**
 * A metadata context the server granted with NBD_OPT_SET_META_CONTEXT.
 *
 * @param id the id the server gave it, used in block status replies
 * @param name the context name, e.g. {@code base:allocation} or {@code qemu:dirty-bitmap:b0}
 */
public record NbdMetaContext(int id, String name) {
    /** The context every server with block status offers. */
    public static final String BASE_ALLOCATION = "base:allocation";
    /** qemu's allocation depth context. */
    public static final String QEMU_ALLOCATION_DEPTH = "qemu:allocation-depth";
    /** Prefix of qemu's dirty bitmap contexts. */
    public static final String QEMU_DIRTY_BITMAP_PREFIX = "qemu:dirty-bitmap:";

    /**
     * Checks the arguments.
     *
     * @param id the id
     * @param name the name
     */
    public NbdMetaContext {
        Objects.requireNonNull(name, "name");
    }
}
