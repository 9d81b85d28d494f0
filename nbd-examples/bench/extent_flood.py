#!/usr/bin/env python3
"""A scripted NBD server for measuring block status memory (docs/PERFORMANCE.md).

It serves one export of SIZE bytes (default 2^20) with the base:allocation context, and answers every
NBD_CMD_BLOCK_STATUS with ONE structured chunk of one-byte extents from the request's offset to the end of the
export, alternating data and hole|zero so that no two neighbours can be merged: with the default size, 2^20
extents, 8 MiB on the wire (the spec's "SHOULD NOT send more than 2^20" per chunk). READ returns zeroes. Other
options are refused with NBD_REP_ERR_UNSUP (so clients fall back to structured replies, not extended headers).

    extent_flood.py SOCKET [SIZE]     # serves connections one after another until killed
"""
import os
import socket
import struct
import sys

IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3E889045565A9
OPT_GO, OPT_INFO, OPT_STRUCTURED, OPT_SET_META = 7, 6, 8, 10
OPT_LIST_META = 9
REP_ACK, REP_META, REP_INFO, REP_ERR_UNSUP = 1, 4, 3, (1 << 31) + 1
STRUCTURED_MAGIC = 0x668E33EF
CMD_READ, CMD_DISC, CMD_BLOCK_STATUS = 0, 2, 7
CHUNK_NONE, CHUNK_BLOCK_STATUS = 0, 5
FLAG_DONE = 1


def read_fully(c, n):
    b = bytearray()
    while len(b) < n:
        r = c.recv(n - len(b))
        if not r:
            raise EOFError
        b += r
    return bytes(b)


def opt_reply(c, opt, typ, data=b""):
    c.sendall(struct.pack(">QIII", REPLY_MAGIC, opt, typ, len(data)) + data)


def serve(c, size):
    c.sendall(struct.pack(">QQH", 0x4E42444D41474943, IHAVEOPT, 3))  # FIXED_NEWSTYLE | NO_ZEROES
    read_fully(c, 4)
    structured = False
    while True:
        magic, opt, length = struct.unpack(">QII", read_fully(c, 16))
        data = read_fully(c, length)
        if opt == OPT_STRUCTURED:
            structured = True
            opt_reply(c, opt, REP_ACK)
        elif opt in (OPT_SET_META, OPT_LIST_META) and structured:
            name = b"base:allocation"
            opt_reply(c, opt, REP_META, struct.pack(">I", 1) + name)
            opt_reply(c, opt, REP_ACK)
        elif opt in (OPT_GO, OPT_INFO):
            tx = 1 | 4 | (1 << 9)  # HAS_FLAGS | SEND_FLUSH | SEND_DF
            opt_reply(c, opt, REP_INFO, struct.pack(">HQH", 0, size, tx))
            opt_reply(c, opt, REP_ACK)
            if opt == OPT_GO:
                break
        else:
            opt_reply(c, opt, REP_ERR_UNSUP)
    while True:
        magic, flags, typ, cookie, offset, length = struct.unpack(">IHHQQI", read_fully(c, 28))
        if typ == CMD_DISC:
            return
        if typ == CMD_READ:
            c.sendall(struct.pack(">IIQ", 0x67446698, 0, cookie) + bytes(length))
        elif typ == CMD_BLOCK_STATUS:
            n = size - offset
            one = struct.pack(">II", 1, 0) + struct.pack(">II", 1, 3)
            body = struct.pack(">I", 1) + one * (n // 2) + (struct.pack(">II", 1, 0) if n % 2 else b"")
            c.sendall(struct.pack(">IHHQI", STRUCTURED_MAGIC, FLAG_DONE, CHUNK_BLOCK_STATUS, cookie, len(body)))
            c.sendall(body)
        else:
            c.sendall(struct.pack(">IIQ", 0x67446698, 0, cookie))


def main():
    path = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 20
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)
    while True:
        c, _ = s.accept()
        try:
            serve(c, size)
        except (EOFError, ConnectionError):
            pass
        finally:
            c.close()


if __name__ == "__main__":
    main()
