#!/usr/bin/python3
"""Non-fixed newstyle: handshake flags 0 so libnbd uses NBD_OPT_EXPORT_NAME
(server then sends size+flags+124 zero bytes).  usage: exportname.py URI"""
import sys
import nbd

h = nbd.NBD()
h.set_handshake_flags(0)
h.connect_uri(sys.argv[1])
print("protocol", h.get_protocol(), "size", h.get_size())
print("pread@0", h.pread(512, 0)[:16])
h.shutdown()
