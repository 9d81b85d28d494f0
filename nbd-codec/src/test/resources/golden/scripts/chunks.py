#!/usr/bin/python3
"""Multi-chunk structured replies (aimed at qemu-nbd with data at 512K..576K).
usage: chunks.py URI
- pread 8192@(512K-4096): hole then data     -> several chunks, last DONE
- pread 8192@(576K-4096): data then hole
- the first read again with DF (don't fragment) -> one OFFSET_DATA chunk
- block_status 1M@0 with two contexts (base:allocation, qemu:dirty-bitmap:b0)
  -> one BLOCK_STATUS chunk per context
- block_status 1M@0 with REQ_ONE -> one extent per context"""
import sys
import nbd

h = nbd.NBD()
h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
h.add_meta_context("qemu:dirty-bitmap:b0")
h.connect_uri(sys.argv[1])
K = 1024


def chunk(subbuf, offset, status, err):
    print("  chunk offset", offset, "len", len(subbuf),
          {nbd.READ_DATA: "DATA", nbd.READ_HOLE: "HOLE",
           nbd.READ_ERROR: "ERROR"}.get(status, status))
    return 0


for off, fl in ((512 * K - 4096, 0), (576 * K - 4096, 0),
                (512 * K - 4096, nbd.CMD_FLAG_DF)):
    print("pread_structured 8192@%d flags %d" % (off, fl))
    h.pread_structured(8192, off, chunk, fl)


def cb(metacontext, offset, entries, err):
    print("  extents", metacontext, offset, entries)
    return 0


for fl in (0, nbd.CMD_FLAG_REQ_ONE):
    print("block_status 1M@0 flags %d" % fl)
    h.block_status(h.get_size(), 0, cb, fl)
h.shutdown()
