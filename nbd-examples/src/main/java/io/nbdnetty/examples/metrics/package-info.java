/** Metrics examples: the client's {@link io.nbdnetty.client.NbdListener} bound to Micrometer. */
package io.nbdnetty.examples.metrics;
