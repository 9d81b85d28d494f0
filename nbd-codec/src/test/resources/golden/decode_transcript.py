#!/usr/bin/env python3
"""Decode a capture.py transcript into NBD messages (stdlib only).

usage: decode_transcript.py [--summary] [--full] TRANSCRIPT...

All C records are joined into one client->server stream and all S records
into one server->client stream; offsets printed are byte offsets in those
joined streams (hex, 4+ digits), so a Java test can cut message N out of
the concatenation of all 'C' (or 'S') lines.  "line L" is the transcript
line on which the message's first byte arrived.

Messages are printed in wire order (by the position of their first byte
in the transcript).  Field names follow doc/proto.md.  --summary prints one
line per message.  Without --full, payload data longer than 32 bytes is
shown as its first 16 bytes plus a length, and the "hex:" line of a
message is cut at 64 bytes.
"""

import struct
import sys

NBDMAGIC = 0x4e42444d41474943
IHAVEOPT = 0x49484156454F5054
CLISERV = 0x00420281861253
OPT_REPLY_MAGIC = 0x3e889045565a9
REQUEST_MAGIC = 0x25609513
EXT_REQUEST_MAGIC = 0x21e41c71
SIMPLE_MAGIC = 0x67446698
STRUCTURED_MAGIC = 0x668e33ef
EXT_REPLY_MAGIC = 0x6e8a278c

HS_FLAGS = {0: "FIXED_NEWSTYLE", 1: "NO_ZEROES"}
CL_FLAGS = {0: "C_FIXED_NEWSTYLE", 1: "C_NO_ZEROES"}
T_FLAGS = {0: "HAS_FLAGS", 1: "READ_ONLY", 2: "SEND_FLUSH", 3: "SEND_FUA",
           4: "ROTATIONAL", 5: "SEND_TRIM", 6: "SEND_WRITE_ZEROES",
           7: "SEND_DF", 8: "CAN_MULTI_CONN", 9: "SEND_RESIZE",
           10: "SEND_CACHE", 11: "SEND_FAST_ZERO", 12: "BLOCK_STATUS_PAYLOAD"}
OPTS = {1: "NBD_OPT_EXPORT_NAME", 2: "NBD_OPT_ABORT", 3: "NBD_OPT_LIST",
        4: "NBD_OPT_PEEK_EXPORT", 5: "NBD_OPT_STARTTLS", 6: "NBD_OPT_INFO",
        7: "NBD_OPT_GO", 8: "NBD_OPT_STRUCTURED_REPLY",
        9: "NBD_OPT_LIST_META_CONTEXT", 10: "NBD_OPT_SET_META_CONTEXT",
        11: "NBD_OPT_EXTENDED_HEADERS"}
REPS = {1: "NBD_REP_ACK", 2: "NBD_REP_SERVER", 3: "NBD_REP_INFO",
        4: "NBD_REP_META_CONTEXT",
        0x80000001: "NBD_REP_ERR_UNSUP", 0x80000002: "NBD_REP_ERR_POLICY",
        0x80000003: "NBD_REP_ERR_INVALID", 0x80000004: "NBD_REP_ERR_PLATFORM",
        0x80000005: "NBD_REP_ERR_TLS_REQD", 0x80000006: "NBD_REP_ERR_UNKNOWN",
        0x80000007: "NBD_REP_ERR_SHUTDOWN",
        0x80000008: "NBD_REP_ERR_BLOCK_SIZE_REQD",
        0x80000009: "NBD_REP_ERR_TOO_BIG",
        0x8000000a: "NBD_REP_ERR_EXT_HEADER_REQD"}
INFOS = {0: "NBD_INFO_EXPORT", 1: "NBD_INFO_NAME", 2: "NBD_INFO_DESCRIPTION",
         3: "NBD_INFO_BLOCK_SIZE"}
CMDS = {0: "NBD_CMD_READ", 1: "NBD_CMD_WRITE", 2: "NBD_CMD_DISC",
        3: "NBD_CMD_FLUSH", 4: "NBD_CMD_TRIM", 5: "NBD_CMD_CACHE",
        6: "NBD_CMD_WRITE_ZEROES", 7: "NBD_CMD_BLOCK_STATUS",
        8: "NBD_CMD_RESIZE"}
CMD_FLAGS = {0: "FUA", 1: "NO_HOLE", 2: "DF", 3: "REQ_ONE", 4: "FAST_ZERO",
             5: "PAYLOAD_LEN"}
REPLY_FLAGS = {0: "NBD_REPLY_FLAG_DONE"}
RTYPES = {0: "NBD_REPLY_TYPE_NONE", 1: "NBD_REPLY_TYPE_OFFSET_DATA",
          2: "NBD_REPLY_TYPE_OFFSET_HOLE", 5: "NBD_REPLY_TYPE_BLOCK_STATUS",
          6: "NBD_REPLY_TYPE_BLOCK_STATUS_EXT",
          0x8001: "NBD_REPLY_TYPE_ERROR", 0x8002: "NBD_REPLY_TYPE_ERROR_OFFSET"}
ERRNOS = {0: "0", 1: "EPERM", 5: "EIO", 12: "ENOMEM", 22: "EINVAL",
          28: "ENOSPC", 75: "EOVERFLOW", 95: "ENOTSUP", 108: "ESHUTDOWN"}


def flags(v, names):
    out = [n for b, n in sorted(names.items()) if v & (1 << b)]
    rest = v & ~sum(1 << b for b in names)
    if rest:
        out.append("0x%x" % rest)
    return "|".join(out) if out else "0"


def sval(b):
    try:
        return repr(b.decode("utf-8"))
    except UnicodeDecodeError:
        return "bytes " + b.hex()


class Msg:
    def __init__(self, d, off, name):
        self.d, self.off, self.name = d, off, name
        self.fields = []     # (rel offset, bytes, description)
        self.raw = b""
        self.line = 0

    def f(self, rel, b, desc):
        self.fields.append((rel, b, desc))


class Stream:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def avail(self, n):
        return self.pos + n <= len(self.data)

    def peek(self, n):
        return self.data[self.pos:self.pos + n]


class Decoder:
    def __init__(self, records):
        self.records = records
        self.c = Stream(b"".join(b for d, b, _ in records if d == "C"))
        self.s = Stream(b"".join(b for d, b, _ in records if d == "S"))
        # stream offset -> (transcript line, global order) for message sorting
        self.where = {"C": [], "S": []}
        pos = {"C": 0, "S": 0}
        for i, (d, b, line) in enumerate(records):
            self.where[d].append((pos[d], pos[d] + len(b), line, i))
            pos[d] += len(b)
        self.msgs = []
        self.cflags = 0
        self.oldstyle = False
        self.requests = {}        # cookie -> [(type, length), ...] in request order (clients may reuse cookies)
        self.contexts = {}        # context id -> name (from SET_META_CONTEXT)
        self.client_opts = []     # option numbers in client order

    def locate(self, d, off):
        for a, b, line, i in self.where[d]:
            if a <= off < b:
                return line, i, off - a
        return 0, 10 ** 9, 0

    def new(self, st, d, name, length):
        m = Msg(d, st.pos, name)
        m.raw = st.data[st.pos:st.pos + length]
        st.pos += length
        self.msgs.append(m)
        return m

    # ---------------------------------------------------------- client side
    def client(self):
        st = self.c
        if not self.oldstyle and st.avail(4):
            m = self.new(st, "C", "client flags", 4)
            self.cflags = struct.unpack(">I", m.raw)[0]
            m.f(0, m.raw, "client flags = " + flags(self.cflags, CL_FLAGS))
        while st.avail(8):
            magic8 = struct.unpack(">Q", st.peek(8))[0]
            magic4 = magic8 >> 32
            if magic8 == IHAVEOPT:
                if not st.avail(16):
                    break
                _, opt, ln = struct.unpack(">QII", st.peek(16))
                if not st.avail(16 + ln):
                    break
                m = self.new(st, "C", "option request " + OPTS.get(opt, str(opt)), 16 + ln)
                self.client_opts.append(opt)
                m.f(0, m.raw[0:8], "magic = IHAVEOPT")
                m.f(8, m.raw[8:12], "option = %d %s" % (opt, OPTS.get(opt, "?")))
                m.f(12, m.raw[12:16], "length of option data = %d" % ln)
                self.opt_data(m, opt, m.raw[16:], 16)
            elif magic4 == REQUEST_MAGIC:
                if not st.avail(28):
                    break
                _, fl, typ, cookie, off, ln = struct.unpack(">IHHQQI", st.peek(28))
                total = 28 + (ln if typ == 1 else 0)
                if not st.avail(total):
                    break
                m = self.new(st, "C", "request " + CMDS.get(typ, str(typ)), total)
                self.requests.setdefault(cookie, []).append((typ, ln))
                r = m.raw
                m.f(0, r[0:4], "magic = NBD_REQUEST_MAGIC")
                m.f(4, r[4:6], "command flags = " + flags(fl, CMD_FLAGS))
                m.f(6, r[6:8], "type = %d %s" % (typ, CMDS.get(typ, "?")))
                m.f(8, r[8:16], "cookie = %d" % cookie)
                m.f(16, r[16:24], "offset = %d" % off)
                m.f(24, r[24:28], "length = %d" % ln)
                if typ == 1:
                    m.f(28, r[28:], "data (%d bytes)" % ln)
            elif magic4 == EXT_REQUEST_MAGIC:
                if not st.avail(32):
                    break
                _, fl, typ, cookie, off, ln = struct.unpack(">IHHQQQ", st.peek(32))
                # A WRITE carries its data with or without PAYLOAD_LEN (qemu 10 leaves the flag off).
                total = 32 + (ln if typ == 1 or fl & 0x20 else 0)
                if not st.avail(total):
                    break
                m = self.new(st, "C", "extended request " + CMDS.get(typ, str(typ)), total)
                self.requests.setdefault(cookie, []).append((typ, ln))
                r = m.raw
                m.f(0, r[0:4], "magic = NBD_EXTENDED_REQUEST_MAGIC")
                m.f(4, r[4:6], "command flags = " + flags(fl, CMD_FLAGS))
                m.f(6, r[6:8], "type = %d %s" % (typ, CMDS.get(typ, "?")))
                m.f(8, r[8:16], "cookie = %d" % cookie)
                m.f(16, r[16:24], "offset = %d" % off)
                m.f(24, r[24:32], "%s length = %d" % ("payload" if total > 32 else "effect", ln))
                if total > 32:
                    m.f(32, r[32:], "data (%d bytes)" % ln)
            else:
                m = self.new(st, "C", "UNRECOGNISED client bytes", len(st.data) - st.pos)
                m.f(0, m.raw, "?")
        if st.pos < len(st.data):
            m = self.new(st, "C", "INCOMPLETE trailing client bytes", len(st.data) - st.pos)
            m.f(0, m.raw, "?")

    def opt_data(self, m, opt, data, base):
        if not data:
            return
        if opt == 1:
            m.f(base, data, "export name = " + sval(data))
        elif opt in (6, 7):
            nl = struct.unpack(">I", data[:4])[0]
            m.f(base, data[:4], "length of name = %d" % nl)
            if nl:
                m.f(base + 4, data[4:4 + nl], "name = " + sval(data[4:4 + nl]))
            p = 4 + nl
            n = struct.unpack(">H", data[p:p + 2])[0]
            m.f(base + p, data[p:p + 2], "number of information requests = %d" % n)
            p += 2
            for _ in range(n):
                it = struct.unpack(">H", data[p:p + 2])[0]
                m.f(base + p, data[p:p + 2], "information request = %d %s" % (it, INFOS.get(it, "?")))
                p += 2
        elif opt in (9, 10):
            nl = struct.unpack(">I", data[:4])[0]
            m.f(base, data[:4], "length of export name = %d" % nl)
            if nl:
                m.f(base + 4, data[4:4 + nl], "export name = " + sval(data[4:4 + nl]))
            p = 4 + nl
            n = struct.unpack(">I", data[p:p + 4])[0]
            m.f(base + p, data[p:p + 4], "number of queries = %d" % n)
            p += 4
            for _ in range(n):
                ql = struct.unpack(">I", data[p:p + 4])[0]
                m.f(base + p, data[p:p + 4], "length of query = %d" % ql)
                m.f(base + p + 4, data[p + 4:p + 4 + ql], "query = " + sval(data[p + 4:p + 4 + ql]))
                p += 4 + ql
        else:
            m.f(base, data, "option data (unexpected)")

    # ---------------------------------------------------------- server side
    def server(self):
        st = self.s
        if not st.avail(16):
            return
        m1, m2 = struct.unpack(">QQ", st.peek(16))
        if m2 == CLISERV:
            self.oldstyle = True
            m = self.new(st, "S", "oldstyle greeting", 152)
            r = m.raw
            size, fl = struct.unpack(">QI", r[16:28])
            m.f(0, r[0:8], "magic = NBDMAGIC")
            m.f(8, r[8:16], "magic = cliserv_magic 0x00420281861253")
            m.f(16, r[16:24], "size of the export = %d" % size)
            m.f(24, r[24:28], "flags = 0x%08x (low 16 bits: transmission flags %s)"
                % (fl, flags(fl & 0xffff, T_FLAGS)))
            m.f(28, r[28:152], "124 bytes zeroes (reserved)" +
                ("" if r[28:152] == bytes(124) else " NOT ZERO"))
            self.transmission()
            return
        m = self.new(st, "S", "newstyle greeting", 18)
        r = m.raw
        hf = struct.unpack(">H", r[16:18])[0]
        m.f(0, r[0:8], "magic = NBDMAGIC")
        m.f(8, r[8:16], "magic = IHAVEOPT")
        m.f(16, r[16:18], "handshake flags = " + flags(hf, HS_FLAGS))
        self.options()

    def options(self):
        st = self.s
        while st.avail(8):
            magic = struct.unpack(">Q", st.peek(8))[0]
            if magic != OPT_REPLY_MAGIC:
                # reply to NBD_OPT_EXPORT_NAME: no header
                n = 10 if self.cflags & 2 else 134
                m = self.new(st, "S", "NBD_OPT_EXPORT_NAME reply (export info, no header)", n)
                r = m.raw
                size, tf = struct.unpack(">QH", r[:10])
                m.f(0, r[0:8], "size of the export = %d" % size)
                m.f(8, r[8:10], "transmission flags = " + flags(tf, T_FLAGS))
                if n == 134:
                    m.f(10, r[10:], "124 bytes zeroes (no C_NO_ZEROES)")
                self.transmission()
                return
            if not st.avail(20):
                break
            _, opt, rt, ln = struct.unpack(">QIII", st.peek(20))
            if not st.avail(20 + ln):
                break
            m = self.new(st, "S", "option reply %s to %s" % (REPS.get(rt, hex(rt)), OPTS.get(opt, str(opt))), 20 + ln)
            r = m.raw
            m.f(0, r[0:8], "magic = 0x3e889045565a9 (option reply)")
            m.f(8, r[8:12], "option = %d %s" % (opt, OPTS.get(opt, "?")))
            m.f(12, r[12:16], "reply type = 0x%x %s" % (rt, REPS.get(rt, "?")))
            m.f(16, r[16:20], "length of reply data = %d" % ln)
            self.rep_data(m, opt, rt, r[20:], 20)
            if opt == 7 and rt == 1:
                self.transmission()
                return
            if opt == 2 and rt == 1:
                break
        if st.pos < len(st.data):
            m = self.new(st, "S", "INCOMPLETE/UNRECOGNISED trailing server bytes", len(st.data) - st.pos)
            m.f(0, m.raw, "?")

    def rep_data(self, m, opt, rt, data, base):
        if not data:
            return
        if rt & 0x80000000:
            m.f(base, data, "error message = " + sval(data))
        elif rt == 2:
            nl = struct.unpack(">I", data[:4])[0]
            m.f(base, data[:4], "length of export name = %d" % nl)
            m.f(base + 4, data[4:4 + nl], "export name = " + sval(data[4:4 + nl]))
            if data[4 + nl:]:
                m.f(base + 4 + nl, data[4 + nl:], "description = " + sval(data[4 + nl:]))
        elif rt == 3:
            it = struct.unpack(">H", data[:2])[0]
            m.f(base, data[:2], "information type = %d %s" % (it, INFOS.get(it, "?")))
            d = data[2:]
            if it == 0:
                size, tf = struct.unpack(">QH", d[:10])
                m.f(base + 2, d[:8], "size of the export = %d" % size)
                m.f(base + 10, d[8:10], "transmission flags = " + flags(tf, T_FLAGS))
            elif it in (1, 2):
                m.f(base + 2, d, ("name = " if it == 1 else "description = ") + sval(d))
            elif it == 3:
                a, b, c = struct.unpack(">III", d[:12])
                m.f(base + 2, d[0:4], "minimum block size = %d" % a)
                m.f(base + 6, d[4:8], "preferred block size = %d" % b)
                m.f(base + 10, d[8:12], "maximum block payload size = %d" % c)
            else:
                m.f(base + 2, d, "info data")
        elif rt == 4:
            cid = struct.unpack(">I", data[:4])[0]
            name = data[4:].decode("utf-8", "replace")
            if opt == 10:
                self.contexts[cid] = name
            m.f(base, data[:4], "NBD metadata context ID = %d" % cid)
            m.f(base + 4, data[4:], "metadata context name = " + sval(data[4:]))
        else:
            m.f(base, data, "reply data")

    def transmission(self):
        st = self.s
        while st.avail(4):
            magic = struct.unpack(">I", st.peek(4))[0]
            if magic == SIMPLE_MAGIC:
                if not st.avail(16):
                    break
                _, err, cookie = struct.unpack(">IIQ", st.peek(16))
                typ, ln = self.request(cookie, True)
                n = 16 + (ln if typ == 0 and err == 0 else 0)
                if not st.avail(n):
                    break
                m = self.new(st, "S", "simple reply to %s%s" % (
                    CMDS.get(typ, "?"), " error " + ERRNOS.get(err, str(err)) if err else ""), n)
                r = m.raw
                m.f(0, r[0:4], "magic = NBD_SIMPLE_REPLY_MAGIC")
                m.f(4, r[4:8], "error = %d %s" % (err, ERRNOS.get(err, "?") if err else ""))
                m.f(8, r[8:16], "cookie = %d" % cookie)
                if n > 16:
                    m.f(16, r[16:], "data (%d bytes)" % (n - 16))
            elif magic == STRUCTURED_MAGIC:
                if not st.avail(20):
                    break
                _, fl, rt, cookie, ln = struct.unpack(">IHHQI", st.peek(20))
                if not st.avail(20 + ln):
                    break
                typ = self.request(cookie, fl & 1)[0]
                m = self.new(st, "S", "structured reply chunk %s%s to %s" % (
                    RTYPES.get(rt, hex(rt)), " DONE" if fl & 1 else "", CMDS.get(typ, "?")), 20 + ln)
                r = m.raw
                m.f(0, r[0:4], "magic = NBD_STRUCTURED_REPLY_MAGIC")
                m.f(4, r[4:6], "flags = " + flags(fl, REPLY_FLAGS))
                m.f(6, r[6:8], "type = %d %s" % (rt, RTYPES.get(rt, "?")))
                m.f(8, r[8:16], "cookie = %d" % cookie)
                m.f(16, r[16:20], "length of payload = %d" % ln)
                self.chunk(m, rt, r[20:], 20)
            elif magic == EXT_REPLY_MAGIC:
                if not st.avail(32):
                    break
                _, fl, rt, cookie, off, ln = struct.unpack(">IHHQQQ", st.peek(32))
                if not st.avail(32 + ln):
                    break
                typ = self.request(cookie, fl & 1)[0]
                m = self.new(st, "S", "extended reply chunk %s%s to %s" % (
                    RTYPES.get(rt, hex(rt)), " DONE" if fl & 1 else "", CMDS.get(typ, "?")), 32 + ln)
                r = m.raw
                m.f(0, r[0:4], "magic = NBD_EXTENDED_REPLY_MAGIC")
                m.f(4, r[4:6], "flags = " + flags(fl, REPLY_FLAGS))
                m.f(6, r[6:8], "type = %d %s" % (rt, RTYPES.get(rt, "?")))
                m.f(8, r[8:16], "cookie = %d" % cookie)
                m.f(16, r[16:24], "offset = %d" % off)
                m.f(24, r[24:32], "length of payload = %d" % ln)
                self.chunk(m, rt, r[32:], 32)
            else:
                break
        if st.pos < len(st.data):
            m = self.new(st, "S", "UNRECOGNISED trailing server bytes", len(st.data) - st.pos)
            m.f(0, m.raw, "?")

    def chunk(self, m, rt, p, base):
        if rt == 1:
            m.f(base, p[:8], "offset = %d" % struct.unpack(">Q", p[:8])[0])
            m.f(base + 8, p[8:], "data (%d bytes)" % (len(p) - 8))
        elif rt == 2:
            off, hs = struct.unpack(">QI", p[:12])
            m.f(base, p[:8], "offset = %d" % off)
            m.f(base + 8, p[8:12], "hole size = %d" % hs)
        elif rt == 5:
            cid = struct.unpack(">I", p[:4])[0]
            name = self.contexts.get(cid, "?")
            m.f(base, p[:4], "metadata context ID = %d (%s)" % (cid, name))
            i = 4
            while i + 8 <= len(p):
                ln, st = struct.unpack(">II", p[i:i + 8])
                sd = self.status(name, st)
                m.f(base + i, p[i:i + 4], "extent length = %d" % ln)
                m.f(base + i + 4, p[i + 4:i + 8], "status flags = %d %s" % (st, sd))
                i += 8
        elif rt == 6:
            cid, n = struct.unpack(">II", p[:8])
            name = self.contexts.get(cid, "?")
            m.f(base, p[:4], "metadata context ID = %d (%s)" % (cid, name))
            m.f(base + 4, p[4:8], "descriptor count = %d" % n)
            i = 8
            while i + 16 <= len(p):
                ln, st = struct.unpack(">QQ", p[i:i + 16])
                m.f(base + i, p[i:i + 8], "extent length = %d" % ln)
                m.f(base + i + 8, p[i + 8:i + 16], "status flags = %d %s" % (st, self.status(name, st)))
                i += 16
        elif rt in (0x8001, 0x8002):
            err, ml = struct.unpack(">IH", p[:6])
            m.f(base, p[:4], "error = %d %s" % (err, ERRNOS.get(err, "?")))
            m.f(base + 4, p[4:6], "message length = %d" % ml)
            if ml:
                m.f(base + 6, p[6:6 + ml], "message = " + sval(p[6:6 + ml]))
            if rt == 0x8002:
                m.f(base + 6 + ml, p[6 + ml:14 + ml], "offset = %d" % struct.unpack(">Q", p[6 + ml:14 + ml])[0])
        elif p:
            m.f(base, p, "payload")

    def request(self, cookie, last):
        """The oldest unanswered request with this cookie; forgotten when this reply is its last."""
        pending = self.requests.get(cookie) or [(None, 0)]
        r = pending[0]
        if last and cookie in self.requests and len(pending) > 1:
            pending.pop(0)
        return r

    @staticmethod
    def status(name, st):
        if name == "base:allocation":
            return flags(st, {0: "STATE_HOLE", 1: "STATE_ZERO"})
        if name.startswith("qemu:dirty-bitmap:"):
            return flags(st, {0: "DIRTY"})
        if name == "qemu:allocation-depth":
            return "depth %d" % st
        return str(st)

    def run(self):
        # the server side decides oldstyle vs newstyle; peek first
        if len(self.s.data) >= 16 and struct.unpack(">Q", self.s.data[8:16])[0] == CLISERV:
            self.oldstyle = True
        self.client()
        self.server()
        for m in self.msgs:
            m.line, m.order, m.recoff = self.locate(m.d, m.off)
        self.msgs.sort(key=lambda m: (m.order, m.recoff))
        return self.msgs


def read_transcript(path):
    records, comments = [], []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line[:2] in ("C ", "S "):
                records.append((line[0], bytes.fromhex(line[2:]), n))
            elif line.startswith("#"):
                comments.append(line)
    return records, comments


def short(b, full):
    if full or len(b) <= 32:
        return b.hex()
    return b[:16].hex() + "... (%d bytes)" % len(b)


def render(path, summary=False, full=False, out=sys.stdout):
    records, comments = read_transcript(path)
    msgs = Decoder(records).run()
    out.write("=== %s\n" % path.split("/")[-1])
    for c in comments:
        if c.startswith(("# server:", "# client:", "# setup", "# size")):
            out.write(c + "\n")
    for m in msgs:
        if summary:
            out.write("%s %04x +%-5d line %-3d %s\n" % (m.d, m.off, len(m.raw), m.line, m.name))
            continue
        out.write("\n%s %04x: %s (%d bytes, line %d)\n" % (m.d, m.off, m.name, len(m.raw), m.line))
        h = m.raw.hex() if (full or len(m.raw) <= 64) else m.raw[:64].hex() + "..."
        out.write("  hex: %s\n" % h)
        for rel, b, desc in m.fields:
            out.write("  %s %04x +%-3d %-34s %s\n" % (m.d, m.off + rel, rel, short(b, full), desc))
    out.write("\n")


def main():
    args = sys.argv[1:]
    summary = "--summary" in args
    full = "--full" in args
    files = [a for a in args if not a.startswith("--")]
    if not files:
        print(__doc__)
        sys.exit(2)
    for p in files:
        render(p, summary, full)


if __name__ == "__main__":
    main()
