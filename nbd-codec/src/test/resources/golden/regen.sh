#!/bin/bash -
# Regenerate every golden transcript in this directory.
#
# Needs: nbdkit (1.32), qemu-utils (qemu-nbd/qemu-img/qemu-io 7.2),
# nbd-server (3.24), libnbd-bin (nbdinfo 1.14), python3-libnbd.
# Servers listen on Unix sockets in a fresh temp dir (DIR in the transcript
# headers), are started with a pid file and killed by that pid.
# In client commands, {sock} is the recording proxy's socket (capture.py).
#
# usage: ./regen.sh [scenario-name ...]     (default: all)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
PY=/usr/bin/python3          # has the libnbd bindings ("import nbd")
D=$(mktemp -d /tmp/nbdgold.XXXXXX)

cleanup() {
    for p in "$D"/*.pid; do
        [ -f "$p" ] || continue
        kill "$(cat "$p")" 2>/dev/null || true
    done
    rm -rf "$D"
}
trap cleanup EXIT

wait_for() {                 # wait until a file/socket exists
    for _ in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.05; done
    echo "timeout waiting for $1" >&2; return 1
}

# start NAME CMD...  -- run a daemonizing server command; CMD may use $D.
SRVCMD=""
start() {
    local name=$1; shift
    "$@"
    wait_for "$D/$name.pid"; wait_for "$D/$name.sock"
    SRVCMD=$(printf '%q ' "$@" | sed "s|$D|DIR|g")
}

stop() {                     # stop NAME -- kill by pid, wait until gone
    local pid; pid=$(cat "$D/$1.pid")
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$D/$1.pid" "$D/$1.sock"
}

# rec OUTFILE NAME [--comment TEXT]... -- CLIENT-CMD...
rec() {
    local out=$1 name=$2; shift 2
    local extra=()
    while [ "$1" != "--" ]; do extra+=("$1"); shift; done
    shift
    echo "== $out" >&2
    $PY capture.py record --connect "$D/$name.sock" --out "$out" \
        --server-cmd "$SRVCMD" --client-output "${extra[@]}" -- "$@" >/dev/null || echo "   (client exit status $?)" >&2
}

ONLY=("$@")
sel() {                      # sel SCENARIO -- true if selected
    [ ${#ONLY[@]} -eq 0 ] && return 0
    local s; for s in "${ONLY[@]}"; do [ "$s" = "$1" ] && return 0; done
    return 1
}
U() { echo "nbd+unix:///${1:-}?socket={sock}"; }    # URI via the proxy

# 1. nbdkit memory, prefilled, nbdinfo --json
if sel memory-json; then
    start m nbdkit -U "$D/m.sock" -P "$D/m.pid" memory size=1M
    $PY scripts/prefill.py "nbd+unix:///?socket=$D/m.sock"
    rec nbdkit-memory-nbdinfo-json.txt m \
        --comment "setup (direct, not recorded): /usr/bin/python3 scripts/prefill.py 'nbd+unix:///?socket=DIR/m.sock'" \
        -- nbdinfo --json "$(U)"
    stop m
fi

# 2. exportname filter, nbdinfo --list
if sel list; then
    start e nbdkit -U "$D/e.sock" -P "$D/e.pid" --filter=exportname memory size=1M \
        exportname=a exportname=b exportname-list=explicit
    rec nbdkit-exportname-nbdinfo-list.txt e -- nbdinfo --list "$(U)"
    # same with export descriptions (nbdkit puts them in NBD_REP_SERVER
    # after the name, and also answers NBD_INFO_DESCRIPTION)
    stop e
    start e nbdkit -U "$D/e.sock" -P "$D/e.pid" --filter=exportname memory size=1M \
        exportname=a exportname=b exportname-list=explicit exportdesc=fixed:golden-desc
    rec nbdkit-exportname-desc-nbdinfo-list.txt e -- nbdinfo --list "$(U)"
    stop e
fi

# 3. unknown export name
if sel unknown; then
    start e nbdkit -U "$D/e.sock" -P "$D/e.pid" --filter=exportname memory size=1M \
        exportname=a exportname=b exportname-list=explicit exportname-strict=true
    rec nbdkit-exportname-strict-unknown-nbdinfo.txt e -- nbdinfo --json "$(U c)"
    stop e
    start e nbdkit -U "$D/e.sock" -P "$D/e.pid" --filter=exportname memory size=1M \
        exportname=a exportname=b exportname-list=explicit
    rec nbdkit-exportname-nonstrict-unknown-nbdinfo.txt e \
        --comment "without exportname-strict=true nbdkit accepts any name" \
        -- nbdinfo --json "$(U c)"
    stop e
fi

# 4. data plugin with a hole, nbdinfo --map
if sel map; then
    start d nbdkit -U "$D/d.sock" -P "$D/d.pid" data "1 2 3 @1048576 4"
    rec nbdkit-data-nbdinfo-map.txt d -- nbdinfo --map "$(U)"
    stop d
fi

# 5. every command, structured and simple replies
if sel rw; then
    start m nbdkit -U "$D/m.sock" -P "$D/m.pid" memory size=2M
    $PY scripts/prefill.py "nbd+unix:///?socket=$D/m.sock"
    rec nbdkit-memory-rw-structured.txt m \
        --comment "size=2M so that a read at 1M is inside the export" \
        --comment "setup (direct, not recorded): /usr/bin/python3 scripts/prefill.py 'nbd+unix:///?socket=DIR/m.sock'" \
        -- $PY scripts/rw.py "$(U)"
    stop m
    start m nbdkit -U "$D/m.sock" -P "$D/m.pid" memory size=2M
    $PY scripts/prefill.py "nbd+unix:///?socket=$D/m.sock"
    rec nbdkit-memory-rw-simple.txt m \
        --comment "size=2M so that a read at 1M is inside the export" \
        --comment "setup (direct, not recorded): /usr/bin/python3 scripts/prefill.py 'nbd+unix:///?socket=DIR/m.sock'" \
        -- $PY scripts/rw.py "$(U)" --no-sr
    stop m
fi

# 6. error replies
if sel errors; then
    start x nbdkit -U "$D/x.sock" -P "$D/x.pid" --filter=error memory size=1M \
        error-pread=EIO error-pread-rate=100% error-pwrite=ENOSPC error-pwrite-rate=100%
    rec nbdkit-error-structured.txt x -- $PY scripts/readerr.py "$(U)"
    rec nbdkit-error-simple.txt x -- $PY scripts/readerr.py "$(U)" --no-sr
    stop x
    start r nbdkit -r -U "$D/r.sock" -P "$D/r.pid" pattern size=1M
    rec nbdkit-readonly-eperm-structured.txt r -- $PY scripts/readerr.py "$(U)"
    rec nbdkit-readonly-eperm-simple.txt r -- $PY scripts/readerr.py "$(U)" --no-sr
    stop r
fi

# 7. oldstyle
if sel oldstyle; then
    start o nbdkit --oldstyle -U "$D/o.sock" -P "$D/o.pid" memory size=1M
    rec nbdkit-oldstyle-read.txt o -- $PY scripts/read512.py "$(U)"
    stop o
fi

# 8. no structured replies, opt mode
if sel optmode; then
    start n nbdkit --no-sr -U "$D/n.sock" -P "$D/n.pid" memory size=1M
    rec nbdkit-nosr-optmode.txt n -- $PY scripts/optmode.py "$(U)"
    stop n
fi

# 9. non-fixed newstyle, NBD_OPT_EXPORT_NAME
if sel exportname-opt; then
    start m nbdkit -U "$D/m.sock" -P "$D/m.pid" memory size=1M
    rec nbdkit-memory-opt-export-name.txt m -- $PY scripts/exportname.py "$(U)"
    stop m
fi

# 10. qemu-nbd with a dirty bitmap
if sel qemu; then
    qemu-img create -q -f qcow2 "$D/d.qcow2" 1M
    qemu-img bitmap --add "$D/d.qcow2" b0
    qemu-io -f qcow2 -c 'write -P 0xab 512k 64k' "$D/d.qcow2" >/dev/null
    QSETUP="setup: qemu-img create -q -f qcow2 DIR/d.qcow2 1M; qemu-img bitmap --add DIR/d.qcow2 b0; qemu-io -f qcow2 -c 'write -P 0xab 512k 64k' DIR/d.qcow2"
    start q qemu-nbd -k "$D/q.sock" -x disk -f qcow2 -B b0 -A --persistent \
        --fork --pid-file "$D/q.pid" "$D/d.qcow2"
    rec qemu-nbd-nbdinfo-map-dirty-bitmap.txt q --comment "$QSETUP" \
        -- nbdinfo --map=qemu:dirty-bitmap:b0 "$(U disk)"
    rec qemu-nbd-nbdinfo-map.txt q --comment "$QSETUP" \
        -- nbdinfo --map "$(U disk)"
    rec qemu-nbd-nbdinfo-json.txt q --comment "$QSETUP" \
        -- nbdinfo --json "$(U disk)"
    rec qemu-nbd-multichunk.txt q --comment "$QSETUP" \
        -- $PY scripts/chunks.py "$(U disk)"
    rec qemu-nbd-rw.txt q --comment "$QSETUP" \
        -- $PY scripts/rw.py "$(U disk)"
    stop q
fi

# 11. nbd-server (reference implementation)
if sel nbd-server; then
    $PY -c "import sys; f=open(sys.argv[1],'wb'); f.write(b'NBDSERVR'*64); f.truncate(1<<20)" "$D/ns.img"
    printf '[generic]\nunixsock = %s\n[disk]\nexportname = %s\n' "$D/ns.sock" "$D/ns.img" > "$D/ns.conf"
    NSETUP="setup: DIR/ns.img = 1 MiB file starting with 'NBDSERVR' x 64; DIR/ns.conf = '[generic] unixsock = DIR/ns.sock' '[disk] exportname = DIR/ns.img'"
    start ns nbd-server -C "$D/ns.conf" -p "$D/ns.pid"
    rec nbd-server-nbdinfo-json.txt ns --comment "$NSETUP" \
        -- nbdinfo --json "$(U disk)"
    rec nbd-server-nbdinfo-list-denied.txt ns --comment "$NSETUP" \
        -- nbdinfo --list "$(U)"
    stop ns
    # second config: allow NBD_OPT_LIST, advertise flush and trim
    printf '[generic]\nunixsock = %s\nallowlist = true\n[disk]\nexportname = %s\nflush = true\ntrim = true\n' "$D/ns.sock" "$D/ns.img" > "$D/ns.conf"
    NSETUP="setup: DIR/ns.img as above; DIR/ns.conf = '[generic] unixsock = DIR/ns.sock' 'allowlist = true' '[disk] exportname = DIR/ns.img' 'flush = true' 'trim = true'"
    start ns nbd-server -C "$D/ns.conf" -p "$D/ns.pid"
    rec nbd-server-allowlist-nbdinfo-list.txt ns --comment "$NSETUP" \
        -- nbdinfo --list "$(U)"
    rec nbd-server-rw.txt ns --comment "$NSETUP" \
        -- $PY scripts/rw.py "$(U disk)"
    stop ns
fi

# 12. NBD_OPT_EXTENDED_HEADERS (11) probe with a hand-made client
# (libnbd 1.14 cannot send it; client bytes are NOT golden, server bytes are)
if sel ext-headers; then
    RAWC="client bytes come from scripts/rawopt.py (hand-made, not libnbd); only S records are golden"
    start m nbdkit -U "$D/m.sock" -P "$D/m.pid" memory size=1M
    rec nbdkit-opt-extended-headers-probe.txt m --comment "$RAWC" \
        -- $PY scripts/rawopt.py "$(U)" 11
    stop m
    qemu-img create -q -f qcow2 "$D/e.qcow2" 1M
    start q qemu-nbd -k "$D/q.sock" -x disk -f qcow2 --persistent \
        --fork --pid-file "$D/q.pid" "$D/e.qcow2"
    rec qemu-nbd-opt-extended-headers-probe.txt q --comment "$RAWC" \
        --comment "setup: qemu-img create -q -f qcow2 DIR/e.qcow2 1M" \
        -- $PY scripts/rawopt.py "$(U)" 11
    stop q
    $PY -c "import sys; f=open(sys.argv[1],'wb'); f.truncate(1<<20)" "$D/ns.img"
    printf '[generic]\nunixsock = %s\n[disk]\nexportname = %s\n' "$D/ns.sock" "$D/ns.img" > "$D/ns.conf"
    start ns nbd-server -C "$D/ns.conf" -p "$D/ns.pid"
    rec nbd-server-opt-extended-headers-probe.txt ns --comment "$RAWC" \
        --comment "setup: DIR/ns.img = 1 MiB zero file; DIR/ns.conf = '[generic] unixsock = DIR/ns.sock' '[disk] exportname = DIR/ns.img'" \
        -- $PY scripts/rawopt.py "$(U)" 11
    stop ns
fi

# 13. qemu 10 (extended headers), both directions. Needs qemu 10's tools in $Q10 (see the README) and nbd-netty's
# own CLI, bin/nbd (build it first: mvn -pl nbd-examples -am package -DskipTests).
#   qemu10-nbd-*: qemu-nbd 10 serving, nbd-netty's client asking: only the S records are golden.
#   qemu10-io-*, qemu10-img-*: qemu-io/qemu-img 10 asking, nbd-netty's example server answering: only the C
#   records are golden.
if sel qemu10; then
    Q10=${Q10:-/opt/qemu10/usr/bin}
    NBD=${NBD:-../../../../../bin/nbd}                           # relative to this directory
    JAR=${JAR:-../../../../../nbd-examples/target/nbd.jar}
    OURC="client bytes come from nbd-netty's own client (bin/nbd, or scripts/ExtentsMap.java on its jar); only S records are golden"
    OURS="server bytes come from nbd-netty's example server (bin/nbd serve); only C records are golden"
    "$Q10/qemu-img" create -q -f qcow2 "$D/t.qcow2" 6G
    "$Q10/qemu-img" bitmap --add "$D/t.qcow2" b0
    "$Q10/qemu-io" -f qcow2 -c 'write -P 0x5a 5G 64k' "$D/t.qcow2" >/dev/null
    TSETUP="setup (qemu 10): qemu-img create -q -f qcow2 DIR/t.qcow2 6G; qemu-img bitmap --add DIR/t.qcow2 b0; qemu-io -f qcow2 -c 'write -P 0x5a 5G 64k' DIR/t.qcow2"
    start t "$Q10/qemu-nbd" -k "$D/t.sock" -x disk -f qcow2 -B b0 --persistent \
        --fork --pid-file "$D/t.pid" "$D/t.qcow2"
    rec qemu10-nbd-map.txt t --comment "$OURC" --comment "$TSETUP" \
        -- java -cp "$JAR" scripts/ExtentsMap.java "$(U disk)"
    rec qemu10-nbd-map-dirty-bitmap.txt t --comment "$OURC" --comment "$TSETUP" \
        -- java -cp "$JAR" scripts/ExtentsMap.java "$(U disk)" qemu:dirty-bitmap:b0
    stop t
    # A small image for data: 64 KiB of 0xab at 512 KiB; copied out (READ), then a file copied in (WRITE).
    "$Q10/qemu-img" create -q -f qcow2 "$D/s.qcow2" 1M
    "$Q10/qemu-io" -f qcow2 -c 'write -P 0xab 512k 64k' "$D/s.qcow2" >/dev/null
    $PY -c "import sys; f=open(sys.argv[1],'wb'); f.write(b'QEMU10IN'*512); f.truncate(1<<20)" "$D/in.raw"
    SSETUP="setup (qemu 10): qemu-img create -q -f qcow2 DIR/s.qcow2 1M; qemu-io -f qcow2 -c 'write -P 0xab 512k 64k' DIR/s.qcow2; DIR/in.raw = 1 MiB file starting with 'QEMU10IN' x 512"
    start s "$Q10/qemu-nbd" -k "$D/s.sock" -x disk -f qcow2 --persistent \
        --fork --pid-file "$D/s.pid" "$D/s.qcow2"
    rec qemu10-nbd-copy-out.txt s --comment "$OURC" --comment "$SSETUP" \
        -- "$NBD" copy -C 1 "$(U disk)" "$D/out.raw"
    rec qemu10-nbd-copy-in.txt s --comment "$OURC" --comment "$SSETUP" \
        -- "$NBD" copy -C 1 --flush "$D/in.raw" "$(U disk)"
    stop s
    # nbd-netty's example server, 1 MiB of memory; qemu 10 as the client.
    "$NBD" serve --unix "$D/n.sock" --size 1M </dev/null >/dev/null 2>&1 &
    echo $! > "$D/n.pid"
    wait_for "$D/n.sock"
    SRVCMD="bin/nbd serve --unix DIR/n.sock --size 1M"
    rec qemu10-io-nbd-serve.txt n --comment "$OURS" \
        -- "$Q10/qemu-io" -f raw -c 'write -P 0x5a 0 4k' -c 'write -z 64k 64k' -c 'discard 128k 64k' \
        -c 'flush' -c 'read -P 0x5a 0 4k' -c 'read -P 0 64k 4k' "$(U)"
    rec qemu10-img-map-nbd-serve.txt n --comment "$OURS" \
        -- "$Q10/qemu-img" map --output=json -f raw "$(U)"
    stop n
    sed -i "s|$D|DIR|g" qemu10-*.txt                        # the temp dir, in client command lines
fi

echo "done; servers stopped" >&2
