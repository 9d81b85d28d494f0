#!/usr/bin/python3
"""Write recognizable data straight to the server (NOT through the proxy).
usage: prefill.py URI"""
import sys
import nbd

h = nbd.NBD()
h.connect_uri(sys.argv[1])
# 4 KiB at offset 0: "GOLDEN00", "GOLDEN01", ... (8-byte records)
data = b"".join(b"GOLDEN%02X" % (i & 0xff) for i in range(512))
h.pwrite(data, 0)
# 512 bytes of 0xAB at 512 KiB, so there are two allocated areas
h.pwrite(b"\xab" * 512, 512 * 1024)
h.flush()
h.shutdown()
