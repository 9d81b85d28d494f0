#!/usr/bin/env python3
"""Transparent recording proxy for NBD over Unix sockets (stdlib only).

Modes
-----
proxy   Listen on --listen, and for each accepted connection connect to
        --connect (the real server's Unix socket), forward bytes both ways
        and write a transcript.  Runs until --max-conns connections have
        finished (default 1) or until killed.

    capture.py proxy --listen P.sock --connect S.sock --out T.txt \
        [--server-cmd '...'] [--client-cmd '...'] [--comment '...']

record  Convenience wrapper: start the proxy on a fresh socket, run a client
        command in which the literal text {sock} is replaced by the proxy
        socket path, wait for the client to exit and all proxied
        connections to close, then write the transcript.

    capture.py record --connect S.sock --out T.txt --server-cmd '...' \
        -- nbdinfo --json 'nbd+unix:///?socket={sock}'

merge   Re-segment an existing transcript: join consecutive records that go
        in the same direction into one record (comments are kept).  Useful
        because how bytes are split into reads depends on timing.

    capture.py merge IN.txt OUT.txt

Transcript format (text, one record per line):
    # comment                       (header: commands used, etc.)
    C <hex>                         client->server bytes from one recv()
    S <hex>                         server->client bytes from one recv()
If more than one connection is proxied, the 2nd, 3rd ... connections go
to OUT-2.txt, OUT-3.txt ... (same directory, suffix before the extension).
Records appear in the order the proxy received them (one select() loop,
so the interleaving between C and S is the order observed on the wire).
A comment line "# EOF C" / "# EOF S" records which side closed first.
"""

import argparse
import os
import select
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time

BUFSZ = 65536


def conn_out_path(out, n):
    if n == 1:
        return out
    root, ext = os.path.splitext(out)
    return "%s-%d%s" % (root, n, ext)


def header_lines(args, n):
    lines = ["# nbd-netty golden transcript (capture.py)",
             "# format: 'C <hex>' = client->server bytes of one read, "
             "'S <hex>' = server->client bytes of one read",
             "# connection: %d" % n]
    if args.server_cmd:
        lines.append("# server: " + args.server_cmd)
    if args.client_cmd:
        lines.append("# client: " + args.client_cmd)
    for c in (args.comment or []):
        for l in c.splitlines():
            lines.append("# " + l)
    return lines


def proxy_one(csock, target, out_path, header):
    """Forward between csock and a new connection to target; record."""
    ssock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ssock.connect(target)
    records = []
    open_c, open_s = True, True
    try:
        while open_c or open_s:
            rl = []
            if open_c:
                rl.append(csock)
            if open_s:
                rl.append(ssock)
            r, _, _ = select.select(rl, [], [])
            for s in r:
                try:
                    data = s.recv(BUFSZ)
                except ConnectionResetError:
                    data = b""
                if s is csock:
                    if data:
                        records.append("C " + data.hex())
                        ssock.sendall(data)
                    else:
                        records.append("# EOF C")
                        open_c = False
                        try:
                            ssock.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                else:
                    if data:
                        records.append("S " + data.hex())
                        try:
                            csock.sendall(data)
                        except (BrokenPipeError, ConnectionResetError):
                            records.append("# client gone while sending")
                            open_c = False
                    else:
                        records.append("# EOF S")
                        open_s = False
                        try:
                            csock.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
    finally:
        csock.close()
        ssock.close()
        with open(out_path, "w") as f:
            for l in header:
                f.write(l + "\n")
            for l in records:
                f.write(l + "\n")


class Proxy:
    def __init__(self, args):
        self.args = args
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(args.listen):
            os.unlink(args.listen)
        self.lsock.bind(args.listen)
        self.lsock.listen(8)
        self.threads = []
        self.count = 0

    def serve(self, max_conns=None, stop=None):
        self.lsock.settimeout(0.1)
        while max_conns is None or self.count < max_conns:
            if stop is not None and stop.is_set():
                break
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            c.settimeout(None)
            self.count += 1
            n = self.count
            t = threading.Thread(
                target=proxy_one,
                args=(c, self.args.connect,
                      conn_out_path(self.args.out, n),
                      header_lines(self.args, n)))
            t.start()
            self.threads.append(t)
        for t in self.threads:
            t.join()

    def close(self):
        self.lsock.close()
        try:
            os.unlink(self.args.listen)
        except OSError:
            pass


def cmd_proxy(args):
    p = Proxy(args)
    try:
        p.serve(max_conns=args.max_conns)
    finally:
        p.close()


def cmd_record(args):
    cmd = args.cmd
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    tmpd = tempfile.mkdtemp(prefix="nbdcap-")
    args.listen = os.path.join(tmpd, "proxy.sock")
    if not args.client_cmd:
        args.client_cmd = " ".join(shlex.quote(c) for c in cmd)
    p = Proxy(args)
    stop = threading.Event()
    t = threading.Thread(target=p.serve, kwargs={"stop": stop})
    t.start()
    real = [c.replace("{sock}", args.listen) for c in cmd]
    try:
        res = subprocess.run(real, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=120)
        sys.stdout.write(res.stdout.decode(errors="replace"))
        rc = res.returncode
    finally:
        time.sleep(0.2)
        stop.set()
        t.join()
        p.close()
        os.rmdir(tmpd)
    print("capture.py: client exit %d, %d connection(s) recorded"
          % (rc, p.count), file=sys.stderr)
    if args.client_output:
        # append client exit status/output as trailing comments
        # the proxy socket path is random; show it as {sock}
        text = res.stdout.decode(errors="replace").replace(args.listen,
                                                            "{sock}")
        for n in range(1, p.count + 1):
            with open(conn_out_path(args.out, n), "a") as f:
                f.write("# client exit status: %d\n" % rc)
                for l in text.splitlines():
                    f.write("# | " + l + "\n")
    return rc


def cmd_merge(args):
    out = []
    cur = [None, []]          # direction, hex pieces

    def flush():
        if cur[0] is not None:
            out.append(cur[0] + " " + "".join(cur[1]))
        cur[0], cur[1] = None, []

    with open(args.infile) as f:
        for line in f:
            line = line.rstrip("\n")
            if line[:2] in ("C ", "S "):
                if line[0] != cur[0]:
                    flush()
                    cur[0] = line[0]
                cur[1].append(line[2:])
            else:
                flush()       # a comment always ends the current record
                out.append(line)
    flush()
    with open(args.outfile, "w") as f:
        for l in out:
            f.write(l + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)

    def common(sp):
        sp.add_argument("--connect", required=True,
                        help="real server Unix socket")
        sp.add_argument("--out", required=True, help="transcript file")
        sp.add_argument("--server-cmd", help="server command line (comment)")
        sp.add_argument("--client-cmd", help="client command line (comment)")
        sp.add_argument("--comment", action="append",
                        help="extra header comment (repeatable)")

    sp = sub.add_parser("proxy")
    common(sp)
    sp.add_argument("--listen", required=True, help="proxy Unix socket")
    sp.add_argument("--max-conns", type=int, default=1)
    sp.set_defaults(func=cmd_proxy)

    sp = sub.add_parser("record")
    common(sp)
    sp.add_argument("--client-output", action="store_true",
                    help="append the client's output as trailing comments")
    sp.add_argument("cmd", nargs=argparse.REMAINDER)
    sp.set_defaults(func=cmd_record)

    sp = sub.add_parser("merge")
    sp.add_argument("infile")
    sp.add_argument("outfile")
    sp.set_defaults(func=cmd_merge)

    args = ap.parse_args()
    rc = args.func(args)
    sys.exit(rc or 0)


if __name__ == "__main__":
    main()
