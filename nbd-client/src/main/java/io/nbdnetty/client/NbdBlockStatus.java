package io.nbdnetty.client;

import java.util.List;
import java.util.Map;

/**
 * The answer to a block status request: for each metadata context the server answered for, its extents from the
 * request's offset onward. The server may describe less than was asked (at least one extent) or, without REQ_ONE,
 * run past the end of the request (but never past the end of the export: see {@link NbdExtentList}).
 *
 * <p>The lists the client makes are {@link NbdExtentList}s, compact views over the reply as it was decoded; {@link
 * #extentList(String)} returns them as such, for reading without an object per extent.
 *
 * @param offset the offset of the request
 * @param extentsByContext extents per context name, in the order the contexts were negotiated
 */
public record NbdBlockStatus(long offset, Map<String, List<NbdExtent>> extentsByContext) {
    /**
     * Copies the map.
     *
     * @param offset the offset
     * @param extentsByContext the extents
     */
    public NbdBlockStatus {
        extentsByContext = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(extentsByContext));
    }

    /**
     * Returns the extents for one context.
     *
     * @param contextName e.g. {@code base:allocation}
     * @return the extents, empty if the server sent none for that context
     */
    public List<NbdExtent> extents(String contextName) {
        return extentsByContext.getOrDefault(contextName, List.of());
    }

    /**
     * Returns the extents for one context as a compact list.
     *
     * @param contextName e.g. {@code base:allocation}
     * @return the extents (empty if the server sent none for that context); for a status made by hand, a compact
     *     copy of its list
     */
    public NbdExtentList extentList(String contextName) {
        return NbdExtentList.copyOf(extents(contextName));
    }
}
