#!/usr/bin/env bash
# TLS engines side by side (issue 20): `nbd bench --tls-engine=jdk`, `--tls-engine=openssl` (BoringSSL) and
# `fio --ioengine=nbd` (libnbd with GnuTLS) on one `nbds://127.0.0.1:PORT/` export, `nbdkit --tls=require memory`
# filled with random data, with X.509 certificates made by openssl in a temporary directory. Each round runs the
# three one after the other on the same workload (the order rotated each round) and a ratio is ours / fio's IOPS in
# the same round. fio's libnbd reads certificates only from $HOME/.pki/libnbd, so fio (and the nbdcopy that fills the
# export) run with HOME set to the temporary directory; the real home is not touched.
#
#   nbd-examples/bench/tls.sh [--size 1G] [--repeat 3] [--runtime 6] [--ramp-time 2]
#
# Needs: nbdkit, fio (with the nbd engine), nbdcopy, openssl, and nbd-examples/target/nbd.jar.
set -euo pipefail

SIZE=1G; REPEAT=3; RUNTIME=6; RAMP=2; COPY_SIZE=0
source "$(dirname "$0")/common.sh"
command -v openssl >/dev/null || { echo "openssl is needed" >&2; exit 1; }

certs="$dir/certs"; home="$dir/home"
mkdir -p "$certs" "$home/.pki/libnbd"
(
    cd "$certs"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca-cert.pem -days 2 -subj "/CN=nbd-netty bench CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    for leaf in server:serverAuth client:clientAuth; do
        name=${leaf%%:*}
        openssl req -newkey rsa:2048 -nodes -keyout "$name-key.pem" -out "$name.csr" -subj /CN=localhost
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=%s\nkeyUsage=digitalSignature,keyEncipherment\n' \
            "${leaf#*:}" > "$name.ext"
        openssl x509 -req -in "$name.csr" -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial -out "$name-cert.pem" \
            -days 2 -extfile "$name.ext"
    done
) >/dev/null 2>&1
cp "$certs"/{ca-cert.pem,client-cert.pem,client-key.pem} "$home/.pki/libnbd/"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nbdkit -p "$port" -i 127.0.0.1 -P "$dir/tls.pid" --tls=require --tls-certificates="$certs" memory "size=$SIZE"
HOME=$home nbdcopy -- [ nbdkit random "size=$SIZE" ] "nbds://127.0.0.1:$port/"
theirs="nbds://127.0.0.1:$port/"
ours="nbds://127.0.0.1:$port/?tls-certificates=$certs"

run() { # who rw bs iodepth -> "iops cpu%"
    local who=$1 rw=$2 bs=$3 qd=$4
    if [ "$who" = fio ]; then
        HOME=$home fio --ioengine=nbd --uri="$theirs" --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" --name=j \
            --output-format=json --rw="$rw" --bs="$bs" --iodepth="$qd" | python3 -c '
import json,sys; t=sys.stdin.read(); j=json.loads(t[t.index("{"):])["jobs"][0]; k="read" if j["read"]["io_bytes"] > 0 else "write"
print(round(j[k]["iops"]), round(j["usr_cpu"] + j["sys_cpu"]))'
    else
        "${NBD[@]}" bench --json --runtime "$RUNTIME" --ramp-time "$RAMP" --rw "$rw" --bs "$bs" --iodepth "$qd" \
            --tls-engine "$who" "$ours" | python3 -c '
import json,sys; d=json.load(sys.stdin); k="read" if "read" in d else "write"
print(round(d[k]["iops"]), round(d["cpu_percent"]))'
    fi
}

row() { # label rw bs iodepth
    local label=$1; shift
    local order=(jdk openssl fio) line="" r
    declare -A iops
    for i in $(seq "$REPEAT"); do
        for who in "${order[@]}"; do
            read -r r _ < <(run "$who" "$@")
            iops[$who]+="$r "
        done
        order=("${order[@]:1}" "${order[0]}")
    done
    python3 - "$label" "${iops[jdk]}" "${iops[openssl]}" "${iops[fio]}" <<'PY'
import sys, statistics as st
label, j, o, f = sys.argv[1], *[list(map(float, a.split())) for a in sys.argv[2:]]
rj = [a / b for a, b in zip(j, f)]; ro = [a / b for a, b in zip(o, f)]
print(f"{label:20} fio {st.median(f):>8.0f} IOPS | jdk {st.median(j):>8.0f} ratio {st.median(rj):.2f} "
      f"({' '.join(f'{r:.2f}' for r in rj)}) | openssl {st.median(o):>8.0f} ratio {st.median(ro):.2f} "
      f"({' '.join(f'{r:.2f}' for r in ro)})")
PY
}

echo "=== nbd bench --tls-engine jdk|openssl vs fio --ioengine=nbd over $theirs ($REPEAT rounds, ${RUNTIME}s each)"
row "read 256K QD16"   read     256k 16
row "randread 4K QD64" randread 4k   64
row "randread 4K QD1"  randread 4k   1
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
