#!/usr/bin/python3
"""Hand-made client (stdlib only, NOT libnbd): probe one option.
usage: rawopt.py URI-or-socket-path [OPTION_NUMBER]   (default 11)
Connects to the Unix socket, reads the 18-byte newstyle greeting, sends
client flags C_FIXED_NEWSTYLE|C_NO_ZEROES, the option with no data, prints
the server's option reply, then sends NBD_OPT_ABORT and reads its reply.
Used to see how real servers answer NBD_OPT_EXTENDED_HEADERS (11), which
libnbd 1.14 cannot send.  The client bytes in such a transcript are ours;
only the server bytes are golden."""
import socket
import struct
import sys
import urllib.parse

IHAVEOPT = 0x49484156454F5054
arg = sys.argv[1]
if arg.startswith("nbd+unix:"):
    q = urllib.parse.urlparse(arg).query
    arg = urllib.parse.parse_qs(q)["socket"][0]
opt = int(sys.argv[2]) if len(sys.argv) > 2 else 11
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(arg)


def recvn(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("server closed after %d of %d bytes" % (len(b), n))
        b += c
    return b


def reply():
    magic, o, typ, ln = struct.unpack(">QIII", recvn(20))
    data = recvn(ln)
    print("reply to option %d: type 0x%x len %d data %r" % (o, typ, ln, data))


g = recvn(18)
print("greeting", g.hex())
s.sendall(struct.pack(">I", 3))
s.sendall(struct.pack(">QII", IHAVEOPT, opt, 0))
reply()
s.sendall(struct.pack(">QII", IHAVEOPT, 2, 0))
try:
    reply()
except EOFError as e:
    print(e)
s.close()
