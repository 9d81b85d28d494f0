package io.nbdnetty.examples.cli.info;

import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdException;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdExtentList;
import io.nbdnetty.examples.cli.CliSupport;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** {@code nbd info --map}: block status of one context over the whole export, as nbdinfo asks for it. */
final class MapWalk {
    private MapWalk() {
    }

    /**
     * The replies as the client handed them over (a compact view of each as decoded, 8 bytes per extent on a compact
     * connection); the client has already cut an extent that ran past the end of the export, so the offsets printed
     * never pass the export's size.
     */
    static List<NbdExtentList> walk(NbdConnection conn, String map) throws Exception {
        if (!conn.canMetaContext(map)) {
            throw new NbdException("--map: server does not support metadata context \"" + map + "\"");
        }
        NbdExportInfo info = conn.exportInfo();
        long align = Features.validBlockSizes(info) ? info.minimumBlockSize() : 512;
        long maxLen = 0xffffffffL - align + 1;
        long exportSize = conn.size();
        List<NbdExtentList> replies = new ArrayList<>();
        for (long offset = 0; offset < exportSize;) {
            NbdBlockStatus st = CliSupport.await(conn.blockStatus(offset, Math.min(exportSize - offset, maxLen), 0,
                    Set.of(map)));
            NbdExtentList extents = st.extentList(map);
            if (extents.isEmpty()) {
                throw new NbdException("--map: server did not return any extents");
            }
            replies.add(extents);
            offset = extents.end();
        }
        return replies;
    }
}
