package io.nbdnetty.examples.cli.info;

import java.util.List;

/**
 * What nbd info describes without {@code --size}, {@code --can} or {@code --map}: the connection, then each export.
 *
 * @param protocol the protocol negotiated, as libnbd names it
 * @param tls whether TLS was negotiated
 * @param structured whether structured replies were negotiated
 * @param exports the exports described (one, or the listed ones that could be)
 * @param complete false if a listed export could not be described (the exit code is 1 then)
 */
record Description(String protocol, boolean tls, boolean structured, List<Facts> exports, boolean complete) {
}
