/**
 * Block devices built on connections: a pool of connections to one export
 * ({@link io.nbdnetty.client.device.NbdConnectionPool}) and a device that reconnects after the connection fails
 * ({@link io.nbdnetty.client.device.NbdReconnectingDevice}, with its
 * {@link io.nbdnetty.client.device.NbdReconnectPolicy}); both are {@link io.nbdnetty.client.NbdBlockDevice}s.
 */
package io.nbdnetty.client.device;
