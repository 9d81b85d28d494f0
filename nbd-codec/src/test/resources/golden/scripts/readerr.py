#!/usr/bin/python3
"""A READ and a WRITE that the server fails.  usage: readerr.py URI [--no-sr]
pread 512@0 (expect error), pwrite 512@0 (expect error), shutdown.
Strict mode is off so libnbd sends commands the server did not advertise."""
import sys
import nbd

sr = "--no-sr" not in sys.argv
h = nbd.NBD()
h.set_request_structured_replies(sr)
h.set_strict_mode(0)
h.connect_uri(sys.argv[1])
print("structured", h.get_structured_replies_negotiated(),
      "read_only", h.is_read_only())
try:
    b = h.pread(512, 0)
    print("pread ok", b[:16])
except nbd.Error as e:
    print("pread error:", e.string, "errno", e.errno)
try:
    h.pwrite(b"\x5a" * 512, 0)
    print("pwrite ok")
except nbd.Error as e:
    print("pwrite error:", e.string, "errno", e.errno)
h.shutdown()
