#!/usr/bin/env python3
"""Recording proxy: accept one connection on LISTEN (a Unix socket), relay it to TARGET (a Unix socket), and write
what each side sent to OUT.c2s (client to server) and OUT.s2c (server to client). Stops when both sides close."""
import os, select, socket, sys

listen_path, target_path, out = sys.argv[1:4]
srv = socket.socket(socket.AF_UNIX)
srv.bind(listen_path)
srv.listen(1)
print("ready", flush=True)
cli, _ = srv.accept()
up = socket.socket(socket.AF_UNIX)
up.connect(target_path)
files = {cli: open(out + ".c2s", "wb"), up: open(out + ".s2c", "wb")}
peer = {cli: up, up: cli}
open_ends = {cli, up}
while open_ends:
    r, _, _ = select.select(list(open_ends), [], [])
    for s in r:
        data = s.recv(65536)
        if not data:
            open_ends.discard(s)
            try:
                peer[s].shutdown(socket.SHUT_WR)
            except OSError:
                pass
            continue
        files[s].write(data)
        peer[s].sendall(data)
for f in files.values():
    f.close()
os.unlink(listen_path)
