#!/usr/bin/python3
"""Every basic command once.  usage: rw.py URI [--no-sr]
pread 4096@0, pread 4096@1M (or @size-4096 if the export is 1M), pwrite 512@4096 (bytes 00..ff twice),
flush, trim 4096@64K, zero 4096@128K (NO_HOLE), cache 4096@0,
block_status 2M@0 (base:allocation; only if negotiated), shutdown.
A command the server does not advertise is skipped by libnbd (strict
mode on, the default) and never reaches the wire; the script prints it."""
import sys
import nbd

uri = sys.argv[1]
sr = "--no-sr" not in sys.argv
h = nbd.NBD()
h.set_request_structured_replies(sr)
if sr:
    h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
h.connect_uri(uri)
size = h.get_size()
print("size", size, "structured", h.get_structured_replies_negotiated(),
      "base:allocation", sr and h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION))


def attempt(name, fn):
    try:
        r = fn()
        print(name, "ok", bytes(r[:16]) if isinstance(r, (bytes, bytearray)) else "")
    except nbd.Error as e:
        print(name, "error:", e.string)


def cb(metacontext, offset, entries, err):
    print("extents", metacontext, offset, entries, err)
    return 0


attempt("pread 4096@0", lambda: h.pread(4096, 0))
off2 = 1024 * 1024 if size >= 1024 * 1024 + 4096 else size - 4096
attempt("pread 4096@%d" % off2, lambda: h.pread(4096, off2))
attempt("pwrite 512@4096", lambda: h.pwrite(bytes(range(256)) * 2, 4096))
attempt("flush", lambda: h.flush())
attempt("trim 4096@64K", lambda: h.trim(4096, 65536))
attempt("zero 4096@128K NO_HOLE",
        lambda: h.zero(4096, 131072, nbd.CMD_FLAG_NO_HOLE))
attempt("cache 4096@0", lambda: h.cache(4096, 0))
if sr and h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION):
    attempt("block_status", lambda: h.block_status(min(size, 2 << 20), 0, cb))
h.shutdown()
