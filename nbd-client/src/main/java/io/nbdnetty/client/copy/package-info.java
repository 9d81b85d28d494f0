/**
 * The copy engine shared by {@link io.nbdnetty.client.backup.NbdBackup} and the {@code nbd copy} command: a
 * {@link io.nbdnetty.client.copy.CopySource} described as data and zero {@link io.nbdnetty.client.copy.Region regions}
 * is copied onto a {@link io.nbdnetty.client.copy.CopyTarget} by a {@link io.nbdnetty.client.copy.Copier}, which keeps
 * a bounded window of requests in flight and applies the zeroing, sparse and flush rules in one place.
 *
 * <p>Endpoints provided here: {@link io.nbdnetty.client.copy.NbdEndpoint} (any
 * {@link io.nbdnetty.client.NbdBlockDevice}: a connection or a pool) and {@link io.nbdnetty.client.copy.FileEndpoint}
 * (a regular file or a block device through a {@link java.nio.channels.FileChannel}, its holes found by a pluggable
 * {@link io.nbdnetty.client.copy.HoleMap}). Streams, {@code null:} and the native hole lookup live in the CLI, on the
 * same interfaces.
 */
package io.nbdnetty.client.copy;
