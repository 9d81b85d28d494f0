#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Side-by-side benchmark: nbd-netty's `nbd bench` / `nbd copy` against fio's nbd engine and libnbd's nbdcopy, on the
# same nbdkit memory export (filled with random data), alternating ours and the peer's run, each pair repeated. One
# command reproduces every row of issue 20. Only ratios within one run mean much on a shared machine.
#
#   nbd-examples/bench/compare.sh [--transport unix|tcp|tls]... [--tls-engines "jdk openssl"]
#       [--many "64x4 256x4 1000x1"] [--many-slack SECONDS] [--sections bench,many,copy] [--no-poll-rows] [--pin]
#       [--plugin memory|null] [--size 2G] [--repeat 3] [--runtime 10] [--ramp-time 2] [--copy-size 8G]
#
# Sections, each a table per transport (and TLS engine) with the machine line and the load at its start:
# - bench: 4K randread QD64 and QD1, 4K randwrite QD64, 256K read QD16, one connection: `nbd bench` beside
#   `fio --ioengine=nbd`. Both run --ramp-time seconds first without counting (fio's ramp_time), then --runtime.
#   On the Unix socket, four more rows run ours without busy polling (--busy-poll 0) and with a long window
#   (--busy-poll 30); --no-poll-rows leaves them out.
# - many (Unix socket only): `nbd bench --connections N --iodepth D` beside `fio --numjobs=N --iodepth=D --thread
#   --group_reporting` (each job a thread with its own libnbd handle), 4K randread, for each NxD of --many (empty:
#   none). Aggregate IOPS, p50 and p99 latency, and the peak RSS of each side (/usr/bin/time %M).
# - copy: `nbd copy URI null:` beside `nbdcopy URI null:` of a --copy-size export, with the default connections (4;
#   nbdkit memory advertises multi-conn) and with --connections=1: whole runs, start-up included, wall and CPU time,
#   the server's CPU time, peak RSS.
# --transport picks the servers (repeatable or a comma list; default all three): nbdkit on a Unix socket, on TCP
# loopback (nbd://127.0.0.1:PORT/, a free port) and with TLS (nbds://127.0.0.1:PORT/, nbdkit --tls=require, X.509
# certificates made with openssl in the temporary directory). fio and nbdcopy run with HOME in the temporary
# directory, whose .pki/libnbd holds the CA and client certificates (libnbd reads them only from there); ours gets
# tls-certificates=DIR in its URI. --tls-engines "jdk openssl" runs the TLS tables once per engine, passing
# --tls-engine=E to ours (default: one table, the CLI's default engine).
#
# --pin runs the servers on the last CPU and the clients on the others (taskset), as if the server were on another
# host. Unpinned, a client shares the CPUs with the server's threads, and the scheduler gives each runnable thread an
# equal share: with N requests in flight nbdkit can have N threads runnable (it runs 16 workers per connection), so at
# 1000x1 fio's 1,000 threads compete with the server's on equal terms, and ours' two event loops (one per CPU) are two
# threads among hundreds: they were measured runnable but waiting for a CPU 77% of the time
# (/proc/PID/task/TID/schedstat).
# Pinned, each client has the same CPUs to itself and the comparison is of the clients, not of the scheduler.
#
# --plugin null serves the bench and many sections from `nbdkit null` (zeros, writes discarded: the least a server
# can cost per request) instead of nbdkit memory filled with random data. On a machine where client and server share
# the CPUs, nbdkit memory's own cost per request sets the pace for both clients; with null, more of the CPU is left
# for the client, and the rows show what each client can do. The copy section always copies nbdkit memory (from
# null, both copiers would only find zeros and skip them).
#
# Many connections, and fio's staggered start. fio creates its N job threads one by one, then releases them all;
# each job then connects (libnbd's nbd_connect_uri, synchronous) and starts its I/O as soon as its own connection is
# up, and its ramp_time and runtime count from that moment (fio's per-job epoch; stats are reset at the end of the
# job's own ramp). Its aggregate IOPS (group_reporting) is every job's I/O within its own window divided by the
# longest job's runtime. While nbdkit accepts 1,000 connections (16 threads each) the jobs already running keep it
# busy, so the last job connects seconds after the first: 16 s on this 2-core machine under load, with ramp_time 1
# and runtime 5, when the jobs' windows hardly overlapped and fio's figure was that of a few hundred connections,
# not 1,000 (hence fio's 26k-128k at 1000x1 in the issue). `nbd bench` opens all its connections first, then ramps,
# then measures every connection over the same window. To measure the same steady state, all N connections running:
# - fio runs with ramp_time = --ramp-time + SLACK and runtime = --runtime + SLACK, SLACK = --many-slack (default
#   N/100 s, at least 2): when the jobs start within SLACK seconds, every job's window opens after the last job has
#   connected, and all windows overlap for at least --runtime seconds;
# - each fio job logs its IOPS every 500 ms (write_iops_log, log_unix_epoch), and the fio IOPS in the table is the
#   sum of each job's mean IOPS over the common window (every job measuring, none finished), at most --runtime
#   seconds from its start. fio's own figure is printed beside it; so are the spread of its jobs' starts and the
#   shortest common window: one shorter than --runtime means SLACK was too short (the ratio still compares the
#   same state; a window of 0 means there was none: that pair is left out of the IOPS and the ratio, and the row
#   says so. Against nbdkit null, fio's 1,000 jobs took 18-32 s to connect, 40-99 s pinned: --many-slack 60 or 120).
# - fio's latency percentiles are its own (each job's window): past the common window they include the last
#   seconds in which the early jobs have stopped and the server has less to do, so they flatter fio a little.
# Ours runs with --ramp-time and --runtime as given. The IOPS columns show the median and the range over --repeat
# pairs: at 1000x1 the server (nbdkit memory, one lock) is much of the cost, and runs vary widely.
#
# Needs: nbdkit, fio (with the nbd engine), nbdcopy, openssl (TLS), and nbd-examples/target/nbd.jar (mvn -B -q
# package -DskipTests). A short run of everything: --repeat 1 --runtime 2 --ramp-time 1 --size 256M --copy-size 512M
# --many "16x4".
set -euo pipefail

SIZE=2G; REPEAT=3; RUNTIME=10; RAMP=2; COPY_SIZE=8G
TRANSPORTS=(); TLS_ENGINES=""; MANY="64x4 256x4 1000x1"; MANY_SLACK=""; SECTIONS="bench,many,copy"; POLL_ROWS=1; PIN=0
PLUGIN=memory
rest=()
while [ $# -gt 0 ]; do
    case "$1" in
        --transport) read -r -a t <<< "${2//,/ }"; TRANSPORTS+=("${t[@]}"); shift 2 ;;
        --tls-engines) TLS_ENGINES=$2; shift 2 ;;
        --many) MANY=$2; shift 2 ;;
        --many-slack) MANY_SLACK=$2; shift 2 ;;
        --sections) SECTIONS=$2; shift 2 ;;
        --no-poll-rows) POLL_ROWS=0; shift ;;
        --pin) PIN=1; shift ;;
        --plugin) PLUGIN=$2; shift 2 ;;
        *) rest+=("$1"); shift ;;
    esac
done
[ ${#TRANSPORTS[@]} -gt 0 ] || TRANSPORTS=(unix tcp tls)
for t in "${TRANSPORTS[@]}"; do
    case "$t" in unix|tcp|tls) ;; *) echo "--transport: unix, tcp or tls, not $t" >&2; exit 2 ;; esac
done
case "$PLUGIN" in memory|null) ;; *) echo "--plugin: memory or null, not $PLUGIN" >&2; exit 2 ;; esac
for s in ${SECTIONS//,/ }; do
    case "$s" in bench|many|copy) ;; *) echo "--sections: bench, many or copy, not $s" >&2; exit 2 ;; esac
done
for m in $MANY; do
    [[ "$m" =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || { echo "--many: NxD, e.g. 64x4, not $m" >&2; exit 2; }
done
section() { [[ ",$SECTIONS," == *",$1,"* ]]; }
set -- "${rest[@]}"
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
compare_py="$here/nbd-examples/bench/compare.py"
if [ "$PIN" = 1 ]; then
    # The server on the last CPU, every client (ours, fio, nbdcopy) on the others: as if the server were on another
    # host, without the scheduler trading CPU time between client and server threads (see the header).
    command -v taskset >/dev/null || { echo "--pin needs taskset" >&2; exit 1; }
    last=$(( $(nproc) - 1 ))
    [ "$last" -ge 1 ] || { echo "--pin needs at least 2 CPUs" >&2; exit 1; }
    SERVER_PIN=(taskset -c "$last")
    NBD=(taskset -c "0-$(( last - 1 ))" "${NBD[@]}")
    PEER=(taskset -c "0-$(( last - 1 ))" "${PEER[@]}")
    echo "pinned: servers on CPU $last, clients on CPUs 0-$(( last - 1 ))"
fi
for v in "$RUNTIME" "$RAMP" "${MANY_SLACK:-0}"; do   # fio's runtime and ramp_time add up in whole seconds
    [[ "$v" =~ ^[0-9]+$ ]] || { echo "--runtime, --ramp-time and --many-slack take whole seconds, not $v" >&2; exit 2; }
done
if [[ " ${TRANSPORTS[*]} " == *" tls "* ]]; then
    command -v openssl >/dev/null || { echo "openssl is needed for --transport tls" >&2; exit 1; }
    make_certs
    if [ -n "$TLS_ENGINES" ] && ! "${NBD[@]}" bench --help | grep -q -- --tls-engine; then
        echo "--tls-engines: this nbd has no --tls-engine option" >&2; exit 1
    fi
fi

# Ours and the peer, each wrapped in /usr/bin/time for its peak RSS; each prints the values compare.py reads.
timed() { /usr/bin/time -f "%e %U %S %M" -o "$dir/time" "$@"; }
rss() { tail -1 "$dir/time" | cut -d' ' -f4; }
ours_bench() { # args...
    timed "${NBD[@]}" bench --json --runtime "$RUNTIME" --ramp-time "$RAMP" "${engine[@]}" "$@" "$ouri" > "$dir/ours.json"
    python3 "$compare_py" ours "$dir/ours.json" "$(rss)"
}
ours_many() { # connections iodepth
    timed "${NBD[@]}" bench --json --runtime "$RUNTIME" --ramp-time "$RAMP" --connections "$1" --iodepth "$2" \
        --rw randread --bs 4k "$ouri" > "$dir/ours.json"
    python3 "$compare_py" ours-many "$dir/ours.json" "$(rss)"
}
fio_bench() { # args...
    timed "${PEER[@]}" fio --ioengine=nbd --uri="$uri" --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" --name=j \
        --output-format=json --output="$dir/fio.json" "$@" > "$dir/fio.out"
    python3 "$compare_py" fio "$dir/fio.json" "$(rss)"
}
fio_many() { # connections iodepth
    local slack=${MANY_SLACK:-$(( $1 / 100 > 2 ? $1 / 100 : 2 ))}
    rm -f "$dir"/iops_iops.*.log
    timed "${PEER[@]}" fio --ioengine=nbd --uri="$uri" --thread --numjobs="$1" --iodepth="$2" --group_reporting \
        --rw=randread --bs=4k --time_based --runtime=$((RUNTIME + slack)) --ramp_time=$((RAMP + slack)) --name=j \
        --write_iops_log="$dir/iops" --log_avg_msec=500 --log_unix_epoch=1 \
        --output-format=json --output="$dir/fio.json" > "$dir/fio.out"
    python3 "$compare_py" fio-many "$dir/fio.json" "$(rss)" "$dir/iops" "$RUNTIME"
}

# Waits (at most 30 s) until the machine is idle, so that no run shares the CPUs with what the last one left behind
# (a server still winding down after many connections: once, here, an nbdkit that had served 1,000 connections kept
# a CPU busy for over a minute; a JVM still exiting).
settle() {
    local a b
    for _ in $(seq 60); do
        a=$(awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat); sleep 0.5
        b=$(awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat)
        python3 -c 'import sys; a, b = sys.argv[1].split(), sys.argv[2].split()
sys.exit(0 if (float(b[0]) - float(a[0])) >= 0.9 * (float(b[1]) - float(a[1])) else 1)' "$a" "$b" && return
    done
    echo "(the machine did not go idle within 30 s: load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
}

results="$dir/results"
pairs() { # label kind peer ours-command... -- peer-command...: REPEAT alternating pairs, then one table row
    local label=$1 kind=$2 who=$3 o=() p=() r v
    shift 3
    while [ "$1" != "--" ]; do o+=("$1"); shift; done; shift; p=("$@")
    : > "$results"
    for r in $(seq "$REPEAT"); do
        settle; v=$("${o[@]}"); echo "$r ours $v" >> "$results"
        settle; v=$("${p[@]}"); echo "$r $who $v" >> "$results"
    done
    python3 "$compare_py" row "$kind" "$label" "$who" "$results"
}
bench_row() { # label ours-args -- fio-args
    local label=$1 o=()
    shift
    while [ "$1" != "--" ]; do o+=("$1"); shift; done; shift
    pairs "$label" bench fio ours_bench "${o[@]}" -- fio_bench "$@"
}
heading() { # text
    echo; echo "=== $1"; echo "load $(cut -d' ' -f1-3 /proc/loadavg)"; echo
}

# The copy server's CPU time (1/100 s) around each copy.
ticks() { awk '{print $14 + $15}' "/proc/$(cat "$dir/c-$tr.pid")/stat"; }
copy_one() { # command...: "wall cpu server rss"
    local t0 e u s m
    t0=$(ticks)
    timed "$@" > /dev/null
    read -r e u s m < <(tail -1 "$dir/time")
    echo "$e $(echo "$u + $s" | bc) $(echo "scale=2; ($(ticks) - $t0) / 100" | bc) $m"
}
copy_row() { # label extra-args...
    local label=$1
    shift
    pairs "$label" copy nbdcopy copy_one "${NBD[@]}" copy "${engine[@]}" "$@" "$ouri" null: \
        -- copy_one "${PEER[@]}" nbdcopy "$@" "$uri" null:
}

# The TLS variants of a transport: one per --tls-engines entry, or the CLI's default engine.
variants() { # transport
    if [ "$1" = tls ] && [ -n "$TLS_ENGINES" ]; then echo "$TLS_ENGINES"; else echo default; fi
}
set_variant() { # transport variant: sets engine (ours' extra options), ouri (ours' URI), name
    engine=(); name=$1; ouri=$uri
    if [ "$2" != default ]; then engine=("--tls-engine=$2"); name="$1, --tls-engine=$2"; fi
    if [ "$1" = tls ]; then ouri="$uri?tls-certificates=$dir/home/.pki/libnbd"; fi
}

for tr in "${TRANSPORTS[@]}"; do
    if section bench || { [ "$tr" = unix ] && section many && [ -n "$MANY" ]; }; then
        uri=$(start_server "m-$tr" "$SIZE" "$tr" "$PLUGIN")
        for v in $(variants "$tr"); do
            set_variant "$tr" "$v"
            section bench || continue
            heading "$name: nbd bench vs fio --ioengine=nbd, one connection ($REPEAT pairs, ${RAMP} s ramp + ${RUNTIME} s, nbdkit $PLUGIN $SIZE)"
            python3 "$compare_py" header bench fio
            bench_row "randread 4K QD64"  --rw randread  --bs 4k   --iodepth 64 -- --rw=randread  --bs=4k   --iodepth=64
            bench_row "randread 4K QD1"   --rw randread  --bs 4k   --iodepth 1  -- --rw=randread  --bs=4k   --iodepth=1
            bench_row "randwrite 4K QD64" --rw randwrite --bs 4k   --iodepth 64 -- --rw=randwrite --bs=4k   --iodepth=64
            bench_row "read 256K QD16"    --rw read      --bs 256k --iodepth 16 -- --rw=read      --bs=256k --iodepth=16
            if [ "$tr" = unix ] && [ "$POLL_ROWS" = 1 ]; then
                # Ours not polling at all, and polling for longer (--busy-poll: CPU for latency; fio's nbd engine
                # has no such option).
                bench_row "randread 4K QD1 poll 0"  --busy-poll 0  --rw randread --bs 4k --iodepth 1 -- --rw=randread --bs=4k --iodepth=1
                bench_row "read 256K QD16 poll 0"   --busy-poll 0  --rw read --bs 256k --iodepth 16 -- --rw=read --bs=256k --iodepth=16
                bench_row "randread 4K QD1 poll 30" --busy-poll 30 --rw randread --bs 4k --iodepth 1 -- --rw=randread --bs=4k --iodepth=1
                bench_row "read 256K QD16 poll 30"  --busy-poll 30 --rw read --bs 256k --iodepth 16 -- --rw=read --bs=256k --iodepth=16
            fi
        done
        if [ "$tr" = unix ] && section many && [ -n "$MANY" ]; then
            set_variant unix default
            heading "unix: nbd bench --connections N --iodepth D vs fio --numjobs=N --iodepth=D --thread, 4K randread ($REPEAT pairs, ${RAMP} s ramp + ${RUNTIME} s; fio: both + slack, IOPS while all its jobs run; nbdkit $PLUGIN $SIZE)"
            python3 "$compare_py" header many fio
            for m in $MANY; do
                n=${m%x*}; d=${m#*x}
                pairs "$n x $d" many fio ours_many "$n" "$d" -- fio_many "$n" "$d"
            done
        fi
        stop_server "m-$tr"
    fi
    if section copy; then
        uri=$(start_server "c-$tr" "$COPY_SIZE" "$tr")
        for v in $(variants "$tr"); do
            set_variant "$tr" "$v"
            heading "$name: nbd copy URI null: vs nbdcopy URI null: ($REPEAT pairs, export $COPY_SIZE)"
            python3 "$compare_py" header copy nbdcopy
            copy_row "copy defaults"
            copy_row "copy --connections=1" --connections=1
        done
        stop_server "c-$tr"
    fi
done
