package io.nbdnetty.client.backup;

import io.nbdnetty.client.NbdException;

/**
 * {@link NbdBackup} refused a target before touching it: an incremental backup onto something that cannot be the
 * previous backup of the source (missing, not a regular file, a different size, or a backup record naming another
 * source or bitmap, or none at all), or a device smaller than the source. Nothing was read, created or written.
 */
public class NbdBackupTargetException extends NbdException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message why the target was refused, naming it
     */
    public NbdBackupTargetException(String message) {
        super(message);
    }
}
