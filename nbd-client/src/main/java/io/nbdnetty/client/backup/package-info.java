/**
 * Full and incremental backups of an export driven by block status and qemu dirty bitmaps
 * ({@link io.nbdnetty.client.backup.NbdBackup}), on top of the public client API and the shared copy engine of
 * {@link io.nbdnetty.client.copy}.
 */
package io.nbdnetty.client.backup;
