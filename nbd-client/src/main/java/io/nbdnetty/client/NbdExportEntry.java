package io.nbdnetty.client;

import java.util.Objects;

/**
 * One export in the answer to {@link NbdHandle#optList()}.
 *
 * @param name the export name
 * @param description the description (empty if the server gave none)
 */
public record NbdExportEntry(String name, String description) {
    /**
     * Checks the arguments.
     *
     * @param name the name
     * @param description the description
     */
    public NbdExportEntry {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
    }
}
