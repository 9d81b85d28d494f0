#!/usr/bin/env bash
# Netty transports side by side: `nbd bench` / `nbd copy` with --transport=epoll, io_uring and nio, each beside fio's
# nbd engine / nbdcopy run in the same round, on the same nbdkit memory export (filled with random data) over a Unix
# socket, as compare.sh sets it up. Each round runs the three transports and the peer one after the other (the order
# rotated each round); rounds are repeated. Prints, per workload and transport, the medians and the ratio to the peer of the same round (ours / peer).
# Only ratios within one run mean much on a shared machine. Busy polling is off on every transport (--busy-poll 0; the
# library's groups poll 5 us by default on epoll and NIO, io_uring's cannot), so that the transports alone differ.
#
#   nbd-examples/bench/transports.sh [--size 2G] [--repeat 3] [--runtime 5] [--ramp-time 2] [--copy-size 8G]
#
# Needs: nbdkit, fio (with the nbd engine), nbdcopy, and nbd-examples/target/nbd.jar (mvn -B -q package -DskipTests).
set -euo pipefail

SIZE=2G; REPEAT=3; RUNTIME=5; RAMP=2; COPY_SIZE=8G
TRANSPORTS=(epoll io_uring nio)
source "$(dirname "$0")/common.sh"
uri=$(start_server m "$SIZE")

ours() { # transport args...: "iops mib/s p99"
    local t=$1; shift
    "${NBD[@]}" bench --json --transport="$t" --busy-poll 0 --runtime "$RUNTIME" --ramp-time "$RAMP" "$@" "$uri" | python3 -c '
import json,sys; d=json.load(sys.stdin); k="read" if "read" in d else "write"
print(d["transport"], d[k]["iops"], d[k]["mib_per_s"], d[k]["latency_us"]["p99"])'; }
theirs() { fio --ioengine=nbd --uri="$uri" --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" --name=j --output-format=json "$@" |
    python3 -c '
import json,sys; t=sys.stdin.read(); j=json.loads(t[t.index("{"):])["jobs"][0]; k="read" if j["read"]["io_bytes"] > 0 else "write"
print(j[k]["iops"], j[k]["bw_bytes"]/1048576, j[k]["clat_ns"]["percentile"]["99.000000"]/1000)'; }

# The order of one round: the transports and the peer, rotated by one place each round so that none always runs
# first or right after the peer.
order() { # round peer
    local all=("${TRANSPORTS[@]}" "$2") n=$((${#TRANSPORTS[@]} + 1)) i
    for i in $(seq 0 $((n - 1))); do echo "${all[$(( (i + $1 - 1) % n ))]}"; done
}

results="$dir/results"
row() { # label ours-args -- fio-args
    local label=$1; shift
    local o=() f=()
    while [ "$1" != "--" ]; do o+=("$1"); shift; done; shift; f=("$@")
    : > "$results"
    for r in $(seq "$REPEAT"); do
        for t in $(order "$r" fio); do
            if [ "$t" = fio ]; then
                read -r a b c < <(theirs "${f[@]}")
            else
                read -r used a b c < <(ours "$t" "${o[@]}")
                [ "$used" = "$t" ] || { echo "asked for $t, got $used" >&2; exit 1; }
            fi
            echo "$r $t $a $b $c" >> "$results"
        done
    done
    python3 "$here/nbd-examples/bench/rounds.py" "$label" fio "$results" "IOPS:.0f:" "MiB/s:.1f:" "p99:.0f: us"
}

echo "=== nbd bench --transport=T vs fio --ioengine=nbd ($REPEAT rounds, ${RUNTIME}s each, export $SIZE)"
row "randread 4K QD64" --rw randread --bs 4k   --iodepth 64 -- --rw=randread --bs=4k   --iodepth=64
row "randread 4K QD1"  --rw randread --bs 4k   --iodepth 1  -- --rw=randread --bs=4k   --iodepth=1
row "read 256K QD16"   --rw read     --bs 256k --iodepth 16 -- --rw=read     --bs=256k --iodepth=16
stop_server m

echo "=== nbd copy --transport=T URI null: vs nbdcopy URI null: ($REPEAT rounds, export $COPY_SIZE)"
curi=$(start_server c "$COPY_SIZE")
timed() { { /usr/bin/time -f "%e %U %S" "$@" >/dev/null; } 2>&1 | tail -1; }
: > "$results"
for r in $(seq "$REPEAT"); do
    for t in $(order "$r" nbdcopy); do
        if [ "$t" = nbdcopy ]; then
            read -r e u s < <(timed nbdcopy "$curi" null:)
        else
            read -r e u s < <(timed "${NBD[@]}" copy --transport="$t" --busy-poll 0 "$curi" null:)
        fi
        echo "$r $t $e $(echo "$u + $s" | bc)" >> "$results"
    done
done
python3 "$here/nbd-examples/bench/rounds.py" "copy defaults" nbdcopy "$results" "wall:.2f:s" "cpu:.2f:s"
