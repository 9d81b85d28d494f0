#!/usr/bin/python3
"""Option haggling by hand.  usage: optmode.py URI
libnbd 1.14 has no opt_structured_reply(); with set_opt_mode(True) and
request_structured_replies left on (default) it still sends
NBD_OPT_STRUCTURED_REPLY automatically while connecting, then stops in
the negotiating state.  Then: opt_list_meta_context, opt_info, opt_go,
pread 512@0, shutdown."""
import sys
import nbd

h = nbd.NBD()
h.set_opt_mode(True)
h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
h.connect_uri(sys.argv[1])
print("negotiating", h.aio_is_negotiating(),
      "structured", h.get_structured_replies_negotiated())
try:
    n = h.opt_list_meta_context(lambda name: print("context", name))
    print("list_meta_context ->", n)
except nbd.Error as e:
    print("opt_list_meta_context error:", e.string)
h.opt_info()
print("info: size", h.get_size(), "read_only", h.is_read_only())
h.opt_go()
print("ready", h.aio_is_ready())
print("pread@0", h.pread(512, 0)[:16])
h.shutdown()
