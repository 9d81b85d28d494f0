/**
 * {@link java.util.concurrent.Flow} adapters over any {@link io.nbdnetty.client.NbdBlockDevice}: reads and block
 * status as publishers ({@link io.nbdnetty.client.stream.NbdStreams}) and writes as a subscriber
 * ({@link io.nbdnetty.client.stream.NbdWriteSubscriber}), with backpressure.
 */
package io.nbdnetty.client.stream;
