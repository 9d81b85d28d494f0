package io.nbdnetty.client;

/** Which reply format the connection uses, as negotiated in the handshake. */
public enum NbdReplyStyle {
    /** Simple replies only (neither structured replies nor extended headers were agreed). */
    SIMPLE,
    /** Structured replies (NBD_OPT_STRUCTURED_REPLY), with 32-bit lengths. */
    STRUCTURED,
    /** Extended headers (NBD_OPT_EXTENDED_HEADERS): 64-bit requests and replies. */
    EXTENDED
}
