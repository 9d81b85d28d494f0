#!/usr/bin/env bash
# Side-by-side benchmark: nbd-netty's `nbd bench` / `nbd copy` against fio's nbd engine and libnbd's nbdcopy, on the
# same nbdkit memory export (filled with random data) over a Unix socket, alternating ours and the peer's run, each
# pair repeated. Prints a table of ratios (ours / peer). Only ratios within one run mean much on a shared machine.
# Both sides of a bench pair run --ramp-time seconds first without counting (fio's ramp_time), and each side's CPU
# use over the measured part is printed (ours: the JVM's process CPU time; fio: its usr_cpu + sys_cpu). Ours runs with
# the library's defaults, which include a 5 us busy-poll window while replies are awaited; two extra rows run ours
# without it (--busy-poll 0) and two with a long one (--busy-poll 30). Copies are whole runs, start-up included, with
# the server's CPU time beside each side's.
#
#   nbd-examples/bench/compare.sh [--size 2G] [--repeat 3] [--runtime 10] [--ramp-time 2] [--copy-size 8G]
#
# Needs: nbdkit, fio (with the nbd engine), nbdcopy, and nbd-examples/target/nbd.jar (mvn -B -q package -DskipTests).
set -euo pipefail

SIZE=2G; REPEAT=3; RUNTIME=10; RAMP=2; COPY_SIZE=8G
source "$(dirname "$0")/common.sh"
uri=$(start_server m "$SIZE")

ours_iops() { "${NBD[@]}" bench --json --runtime "$RUNTIME" --ramp-time "$RAMP" "$@" "$uri" | python3 -c '
import json,sys; d=json.load(sys.stdin); k="read" if "read" in d else "write"
print(d[k]["iops"], d[k]["mib_per_s"], d[k]["latency_us"]["p99"], d["cpu_percent"])'; }
fio_iops() { fio --ioengine=nbd --uri="$uri" --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" --name=j --output-format=json "$@" |
    python3 -c '
import json,sys; t=sys.stdin.read(); j=json.loads(t[t.index("{"):])["jobs"][0]; k="read" if j["read"]["io_bytes"] > 0 else "write"
print(j[k]["iops"], j[k]["bw_bytes"]/1048576, j[k]["clat_ns"]["percentile"]["99.000000"]/1000, j["usr_cpu"] + j["sys_cpu"])'; }

row() { # label ours-args -- fio-args
    local label=$1; shift
    local ours=() theirs=()
    while [ "$1" != "--" ]; do ours+=("$1"); shift; done; shift; theirs=("$@")
    local oi=() fi=() om=() fm=() op=() fp=() oc=() fc=()
    for _ in $(seq "$REPEAT"); do
        read -r a b c d < <(ours_iops "${ours[@]}"); oi+=("$a"); om+=("$b"); op+=("$c"); oc+=("$d")
        read -r a b c d < <(fio_iops "${theirs[@]}"); fi+=("$a"); fm+=("$b"); fp+=("$c"); fc+=("$d")
    done
    python3 - "$label" "${oi[*]}" "${fi[*]}" "${om[*]}" "${fm[*]}" "${op[*]}" "${fp[*]}" "${oc[*]}" "${fc[*]}" <<'PY'
import sys, statistics as st
label, oi, fi, om, fm, op, fp, oc, fc = sys.argv[1], *[list(map(float, a.split())) for a in sys.argv[2:]]
ratios = [a / b for a, b in zip(oi, fi)]
print(f"{label:28} ours {st.median(oi):>10.0f} IOPS {st.median(om):>8.1f} MiB/s p99 {st.median(op):>7.0f} us "
      f"cpu {st.median(oc):>3.0f}% | "
      f"fio {st.median(fi):>10.0f} IOPS {st.median(fm):>8.1f} MiB/s p99 {st.median(fp):>7.0f} us "
      f"cpu {st.median(fc):>3.0f}% | "
      f"ratio median {st.median(ratios):.2f} (runs {' '.join(f'{r:.2f}' for r in ratios)}) "
      f"p99 ratio {st.median(op) / st.median(fp):.2f}")
PY
}

echo "=== nbd bench vs fio --ioengine=nbd ($REPEAT pairs, ${RUNTIME}s each, export $SIZE)"
row "randread 4K QD64"  --rw randread  --bs 4k   --iodepth 64 -- --rw=randread  --bs=4k   --iodepth=64
row "randread 4K QD1"   --rw randread  --bs 4k   --iodepth 1  -- --rw=randread  --bs=4k   --iodepth=1
row "randwrite 4K QD64" --rw randwrite --bs 4k   --iodepth 64 -- --rw=randwrite --bs=4k   --iodepth=64
row "read 256K QD16"    --rw read      --bs 256k --iodepth 16 -- --rw=read      --bs=256k --iodepth=16
# The same with ours not polling at all, and polling for longer (--busy-poll: CPU for latency; fio's nbd engine has
# no such option).
row "randread 4K QD1 poll 0"     --busy-poll 0 --rw randread --bs 4k --iodepth 1 -- --rw=randread --bs=4k --iodepth=1
row "read 256K QD16 poll 0"      --busy-poll 0 --rw read --bs 256k --iodepth 16 -- --rw=read --bs=256k --iodepth=16
row "randread 4K QD1 poll 30"    --busy-poll 30 --rw randread --bs 4k --iodepth 1 -- --rw=randread --bs=4k --iodepth=1
row "read 256K QD16 poll 30"     --busy-poll 30 --rw read --bs 256k --iodepth 16 -- --rw=read --bs=256k --iodepth=16

echo "=== nbd copy URI null: vs nbdcopy URI null: (export $COPY_SIZE)"
curi=$(start_server c "$COPY_SIZE")
ticks() { awk '{print $14 + $15}' "/proc/$(cat "$dir/c.pid")/stat"; }   # the copy server's CPU time (1/100 s)
copy_pair() { # label ours-extra nbdcopy-extra
    local ow=() oc=() os=() tw=() tc=() ts=() t0
    for _ in $(seq "$REPEAT"); do
        t0=$(ticks)
        read -r e u s < <( { /usr/bin/time -f "%e %U %S" "${NBD[@]}" copy $2 "$curi" null: >/dev/null; } 2>&1 | tail -1)
        ow+=("$e"); oc+=("$(echo "$u + $s" | bc)"); os+=("$(( $(ticks) - t0 ))")
        t0=$(ticks)
        read -r e u s < <( { /usr/bin/time -f "%e %U %S" nbdcopy $3 "$curi" null: >/dev/null; } 2>&1 | tail -1)
        tw+=("$e"); tc+=("$(echo "$u + $s" | bc)"); ts+=("$(( $(ticks) - t0 ))")
    done
    python3 - "$1" "${ow[*]}" "${tw[*]}" "${oc[*]}" "${tc[*]}" "${os[*]}" "${ts[*]}" <<'PY'
import sys, statistics as st
label, ow, tw, oc, tc, os_, ts = sys.argv[1], *[list(map(float, a.split())) for a in sys.argv[2:]]
print(f"{label:28} ours wall {st.median(ow):.2f}s cpu {st.median(oc):.2f}s server {st.median(os_)/100:.2f}s | "
      f"nbdcopy wall {st.median(tw):.2f}s cpu {st.median(tc):.2f}s server {st.median(ts)/100:.2f}s | "
      f"wall ratio {st.median(ow)/st.median(tw):.2f} cpu ratio {st.median(oc)/st.median(tc):.2f}"
      f" (wall runs {' '.join(f'{a/b:.2f}' for a, b in zip(ow, tw))})")
PY
}
copy_pair "copy defaults" "" ""
copy_pair "copy --connections=1" "--connections=1" "--connections=1"
