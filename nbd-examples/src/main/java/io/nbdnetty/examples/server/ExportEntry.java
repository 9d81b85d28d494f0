package io.nbdnetty.examples.server;

/**
 * One export as the server sees it.
 *
 * @param name the name clients ask for
 * @param export the storage
 * @param description the description ("" for none; null only before the builder resolves it)
 */
record ExportEntry(String name, NbdExport export, String description) {
}
