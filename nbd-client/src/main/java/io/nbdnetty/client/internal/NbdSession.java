package io.nbdnetty.client.internal;

import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdExportInfo;
import io.nbdnetty.client.NbdMetaContext;
import io.nbdnetty.client.NbdReplyStyle;

import java.util.List;

/**
 * What the handshake negotiated, as the transmission phase uses it; immutable.
 *
 * @param config the handle's configuration when the transmission phase began
 * @param info the export
 * @param style the reply style
 * @param contexts the metadata contexts granted, in the order the server granted them
 */
public record NbdSession(NbdClientConfig config, NbdExportInfo info, NbdReplyStyle style,
        List<NbdMetaContext> contexts) {
    /** Copies the list of contexts. */
    public NbdSession {
        contexts = List.copyOf(contexts);
    }
}
