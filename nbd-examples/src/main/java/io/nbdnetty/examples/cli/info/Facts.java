package io.nbdnetty.examples.cli.info;

import io.nbdnetty.client.NbdExportInfo;

import java.util.List;

/**
 * Everything nbd info prints for one export.
 *
 * @param name the export's name (canonical if the server gave one), cut as shown
 * @param description its description, or null
 * @param size its size in bytes
 * @param content what file(1) says of its first 8 KiB, or null
 * @param uri its URI as libnbd builds it
 * @param contexts the metadata contexts the server offers, or null if it could not be asked
 * @param info the export's flags and block sizes
 * @param df whether DF counts (libnbd ignores it without structured replies)
 * @param blockSizes whether the block sizes are shown (libnbd keeps them only if they make sense)
 */
record Facts(String name, String description, long size, String content, String uri, List<String> contexts,
        NbdExportInfo info, boolean df, boolean blockSizes) {
}
