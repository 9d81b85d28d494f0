#!/usr/bin/env bash
# Memory with many connections: `nbd bench --connections N --iodepth D` beside `fio --numjobs=N --thread` (each fio
# job a thread with its own libnbd handle), 4 KiB random reads on one nbdkit memory export over a Unix socket,
# alternating ours and fio's run, each pair repeated. Prints each side's IOPS and peak resident set size
# (/usr/bin/time's %M) and the ratios. Ours runs through bin/nbd with its default JVM options. With NBD_OTHER set to
# another build's launcher (a copy of bin/nbd beside its own nbd-examples/target/nbd.jar), that build runs too, in
# the same rotation: a before/after in one run.
#
#   nbd-examples/bench/memory.sh [--size 1G] [--repeat 3] [--runtime 5] [--ramp-time 2]
#
# Needs: nbdkit, fio (with the nbd engine), nbdcopy, and nbd-examples/target/nbd.jar (mvn -B -q package -DskipTests).
set -euo pipefail

SIZE=1G; REPEAT=3; RUNTIME=5; RAMP=2; COPY_SIZE=0
source "$(dirname "$0")/common.sh"
uri=$(start_server m "$SIZE")
OTHER=${NBD_OTHER:-}
[ -z "$OTHER" ] || "$OTHER" --version >/dev/null   # its class-data archive, not timed

# Prints "IOPS RSS-KiB" of one run.
ours() { # launcher connections iodepth
    local out rss
    out=$( { /usr/bin/time -f "rss %M" "$1" bench --json --runtime "$RUNTIME" --ramp-time "$RAMP" --rw randread \
        --bs 4k --connections "$2" --iodepth "$3" "$uri"; } 2>&1)
    rss=$(sed -n 's/^rss //p' <<< "$out")
    sed '/^rss /d; /^nbd: preparing/d' <<< "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["read"]["iops"], end=" ")'
    echo "$rss"
}
theirs() { # connections iodepth
    local out rss
    out=$( { /usr/bin/time -f "rss %M" fio --ioengine=nbd --uri="$uri" --time_based --runtime="$RUNTIME" \
        --ramp_time="$RAMP" --name=j --rw=randread --bs=4k --numjobs="$1" --iodepth="$2" --thread --group_reporting \
        --output-format=json; } 2>&1)
    rss=$(sed -n 's/^rss //p' <<< "$out")
    sed '/^rss /d' <<< "$out" | python3 -c '
import json,sys; t=sys.stdin.read(); print(json.loads(t[t.index("{"):])["jobs"][0]["read"]["iops"], end=" ")'
    echo "$rss"
}

row() { # connections iodepth
    local oi=() orss=() fi=() frss=() xi=() xrss=() a b
    for _ in $(seq "$REPEAT"); do
        read -r a b < <(ours "${NBD[0]}" "$1" "$2"); oi+=("$a"); orss+=("$b")
        read -r a b < <(theirs "$1" "$2"); fi+=("$a"); frss+=("$b")
        if [ -n "$OTHER" ]; then read -r a b < <(ours "$OTHER" "$1" "$2"); xi+=("$a"); xrss+=("$b"); fi
    done
    python3 - "$1 x $2" "${oi[*]}" "${orss[*]}" "${fi[*]}" "${frss[*]}" "${xi[*]:-}" "${xrss[*]:-}" <<'PY'
import sys, statistics as st
label, oi, orss, fi, frss, xi, xrss = sys.argv[1], *[list(map(float, a.split())) for a in sys.argv[2:]]
m = st.median
line = (f"{label:10} ours {m(oi):>8.0f} IOPS {m(orss)/1024:>6.1f} MiB | fio {m(fi):>8.0f} IOPS {m(frss)/1024:>6.1f} MiB"
        f" | IOPS ratio {m(oi)/m(fi):.2f} RSS ratio {m(orss)/m(frss):.2f}"
        f" (RSS runs ours {' '.join(f'{r/1024:.0f}' for r in orss)}, fio {' '.join(f'{r/1024:.0f}' for r in frss)})")
if xi:
    line += f" | other build {m(xi):>8.0f} IOPS {m(xrss)/1024:>6.1f} MiB (runs {' '.join(f'{r/1024:.0f}' for r in xrss)})"
print(line)
PY
}

echo "=== nbd bench vs fio --thread, 4K randread, peak RSS ($REPEAT rounds, ${RUNTIME}s after a ${RAMP}s ramp, export $SIZE)"
row 64 4
row 256 4
row 1000 1
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
