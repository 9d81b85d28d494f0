/**
 * The NBD wire format for Netty: immutable message types, encoders and decoders for the handshake (newstyle and
 * oldstyle) and the transmission phase (compact and extended headers, simple and structured replies), for both the
 * client and the server side.
 *
 * <p>This package knows bytes and nothing about policy: it checks that what it reads is well formed (magic numbers,
 * lengths against configured limits, the layout of each payload) and raises a typed {@link
 * io.nbdnetty.codec.NbdDecoderException} naming what was wrong and where, but it does not decide what a client or a
 * server does next. Data payloads are passed as retained slices, never copied.
 *
 * <p>Reference: the NBD protocol, {@code doc/proto.md} of NetworkBlockDevice/nbd, and its extended-headers extension.
 */
package io.nbdnetty.codec;
