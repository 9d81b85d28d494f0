/**
 * A harness for interop tests against real NBD peers: {@link io.nbdnetty.testing.peers.PeerServer} starts nbdkit,
 * qemu-nbd or nbd-server on a Unix socket, {@link io.nbdnetty.testing.peers.PeerClients} runs reference clients
 * (nbdinfo, nbdcopy, qemu-img), {@link io.nbdnetty.testing.peers.UnixSockets} opens already-connected sockets, and
 * {@link io.nbdnetty.testing.peers.Interop} skips or fails a test when a peer is not installed
 * ({@code -Dnbd.interop=auto|required}).
 *
 * <p>Ships in nbd-codec's test-jar so every module's tests can use it.
 */
package io.nbdnetty.testing.peers;
