#!/usr/bin/python3
"""pread 512@0 then shutdown.  usage: read512.py URI"""
import sys
import nbd

h = nbd.NBD()
h.connect_uri(sys.argv[1])
print("protocol", h.get_protocol(), "size", h.get_size())
print("pread@0", h.pread(512, 0)[:16])
h.shutdown()
