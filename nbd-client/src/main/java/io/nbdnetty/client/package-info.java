/**
 * An asynchronous NBD client on Netty. Create an {@link io.nbdnetty.client.NbdHandle} from an {@link
 * io.nbdnetty.client.NbdClientConfig}, hand it a socket that is already connected, and it runs the NBD handshake on
 * it (or stops for manual option negotiation in opt mode); the {@link io.nbdnetty.client.NbdConnection} it completes
 * with carries the transmission phase: every command, pipelined, with replies matched by cookie.
 *
 * <p>The model is libnbd's {@code nbd_aio_connect_socket(3)}: the same states, settings and defaults, with
 * {@link java.util.concurrent.CompletableFuture}s in place of completion callbacks.
 *
 * <p>Built on this API, in their own packages: {@link io.nbdnetty.client.copy} (the copy engine of {@code nbd copy}
 * and of backups) and {@link io.nbdnetty.client.backup} (full and incremental backups).
 */
package io.nbdnetty.client;
