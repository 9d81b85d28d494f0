/** Reactive Streams examples: the client's {@link java.util.concurrent.Flow} adapters used from Reactor. */
package io.nbdnetty.examples.reactive;
