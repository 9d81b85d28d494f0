#!/bin/sh
# Re-creates the captures in this directory from real peers (nbdkit 1.32, libnbd 1.14 nbdsh; see
# /work/shared/INTEROP.md for the packages). Each capture NAME gives NAME.c2s (what the client sent) and NAME.s2c
# (what the server sent). Run from this directory: sh capture.sh
set -eu
# nbdsh needs the system python3 with libnbd's bindings, not another python3 earlier in PATH.
PATH=/usr/bin:/bin:$PATH
here=$(pwd)
tmp=$(mktemp -d)
cleanup() {
    [ -f "$tmp/s.pid" ] && kill "$(cat "$tmp/s.pid")" 2>/dev/null || true
    [ -n "${rec:-}" ] && kill "$rec" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

capture() { # capture NAME "nbdkit args" "nbdsh python, connecting to uri"
    name=$1 server=$2 script=$3
    # shellcheck disable=SC2086
    nbdkit -U "$tmp/s.sock" -P "$tmp/s.pid" $server </dev/null >/dev/null 2>&1
    while [ ! -S "$tmp/s.sock" ]; do sleep 0.05; done
    python3 "$here/record.py" "$tmp/p.sock" "$tmp/s.sock" "$here/$name" </dev/null >/dev/null 2>&1 &
    rec=$!
    while [ ! -S "$tmp/p.sock" ]; do sleep 0.05; done
    nbdsh -c "uri = 'nbd+unix:///?socket=$tmp/p.sock'" -c "$script"
    wait $rec
    rec=
    pid=$(cat "$tmp/s.pid")
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$tmp/s.pid" "$tmp/s.sock"
}

# Fixed newstyle, NBD_OPT_GO, structured replies, base:allocation; one 4 KiB READ at offset 8192 of the pattern
# plugin (each 8-byte word is its own big-endian offset), one BLOCK_STATUS, then NBD_CMD_DISC.
capture structured-read "-r pattern size=1M" \
    "h.add_meta_context('base:allocation'); h.connect_uri(uri); h.pread(4096, 8192);
h.block_status(65536, 0, lambda *a: 0); h.shutdown()"
# The same with structured replies refused (--no-sr): a simple reply carrying the 4 KiB.
capture simple-read "-r --no-sr pattern size=1M" "h.connect_uri(uri); h.pread(4096, 8192); h.shutdown()"
# Oldstyle negotiation: the 152-byte greeting, then a 512-byte READ.
capture oldstyle "-r --oldstyle pattern size=1M" "h.connect_uri(uri); h.pread(512, 0); h.shutdown()"
