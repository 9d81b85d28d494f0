# shellcheck shell=bash disable=SC2034  # the options are read by the scripts that source this
# Shared set-up of compare.sh and transports.sh; sourced, not run. Before sourcing, set SIZE, REPEAT, RUNTIME, RAMP
# and COPY_SIZE to their defaults; this parses the options into them, checks the tools, and defines $here, NBD (the
# launcher, with its default JVM options), $dir (a temporary directory removed at exit, with every server started
# by start_server stopped), start_server (its nbdkit runs under the prefix SERVER_PIN, empty by default),
# stop_server, make_certs, and PEER and peer (how fio and nbdcopy run). Prints the machine and the peers' versions.

while [ $# -gt 0 ]; do
    case "$1" in
        --size) SIZE=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        --runtime) RUNTIME=$2; shift 2 ;;
        --ramp-time) RAMP=$2; shift 2 ;;
        --copy-size) COPY_SIZE=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
jar="$here/nbd-examples/target/nbd.jar"
[ -f "$jar" ] || { echo "build first: mvn -B -q package -DskipTests" >&2; exit 1; }
for t in nbdkit fio nbdcopy; do command -v $t >/dev/null || { echo "$t is needed" >&2; exit 1; }; done
NBD=("$here/bin/nbd")   # the launcher, with its default JVM options
SERVER_PIN=()           # a prefix for the servers, e.g. (taskset -c 1); a script may set it after sourcing this
"${NBD[@]}" --version >/dev/null   # the first run after a build records bin/nbd's class-data archive; not timed

shopt -s inherit_errexit   # a failure inside $(start_server ...) stops the script too
dir=$(mktemp -d /tmp/nbd-bench.XXXXXX)
mkdir "$dir/home"
# Servers are started in command substitutions (subshells), so they are found through their pid files.
cleanup() { for f in "$dir"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done; rm -rf "$dir"; }
trap cleanup EXIT

start_server() { # name size [unix|tcp|tls] [memory|null]: prints the URI (TLS: the peers' form, see make_certs)
    local listen uri port plugin=${4:-memory}
    case "${3:-unix}" in
        unix) listen=(-U "$dir/$1.sock"); uri="nbd+unix:///?socket=$dir/$1.sock" ;;
        tcp|tls)
            port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
            listen=(-i 127.0.0.1 -p "$port"); uri="nbd://127.0.0.1:$port/" ;;
        *) echo "start_server: unknown transport $3" >&2; return 1 ;;
    esac
    if [ "${3:-unix}" = tls ]; then
        listen+=(--tls=require "--tls-certificates=$dir/certs"); uri="nbds://127.0.0.1:$port/"
    fi
    case "$plugin" in memory|null) ;; *) echo "start_server: unknown plugin $plugin" >&2; return 1 ;; esac
    "${SERVER_PIN[@]}" nbdkit "${listen[@]}" -P "$dir/$1.pid" "$plugin" "size=$2"
    # nbdkit null keeps nothing and answers reads with zeros: the cheapest server, nothing to fill.
    [ "$plugin" = null ] && { echo "$uri"; return; }
    # Fill it with random data (from nbdkit's random plugin) so reads are of real pages, not the zero fast path.
    nbdkit -U "$dir/$1-fill.sock" -P "$dir/$1-fill.pid" random "size=$2"
    peer nbdcopy "nbd+unix:///?socket=$dir/$1-fill.sock" "$uri"
    kill "$(cat "$dir/$1-fill.pid")"; rm -f "$dir/$1-fill.pid"
    echo "$uri"
}
stop_server() { kill "$(cat "$dir/$1.pid")"; rm -f "$dir/$1.pid"; }

# A peer (fio, nbdcopy) runs with HOME in the temporary directory: libnbd reads its TLS certificates only from its
# default directory, $HOME/.pki/libnbd (a tls-certificates= query would need nbd_set_uri_allow_local_file), and the
# real home is left alone.
PEER=(env "HOME=$dir/home")
peer() { "${PEER[@]}" "$@"; }

# X.509 certificates made with openssl, as the TLS tests make them: a CA, the server's in $dir/certs (for nbdkit's
# --tls-certificates), and the client's with the CA's in $dir/home/.pki/libnbd (libnbd's default directory under
# peer's HOME; ours reads the same directory through tls-certificates= in its URI).
make_certs() {
    local s="$dir/certs" c="$dir/home/.pki/libnbd" n
    mkdir -p "$s" "$c"
    ossl() { openssl "$@" >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; return 1; }; }
    ossl req -x509 -newkey rsa:2048 -nodes -keyout "$s/ca-key.pem" -out "$s/ca-cert.pem" -days 2 \
        -subj "/CN=nbd-netty bench CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    for n in server client; do
        ossl req -newkey rsa:2048 -nodes -keyout "$s/$n-key.pem" -out "$s/$n.csr" -subj /CN=localhost
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=%s\nkeyUsage=digitalSignature,keyEncipherment\n' \
            "$([ $n = server ] && echo serverAuth || echo clientAuth)" > "$s/$n.ext"
        ossl x509 -req -in "$s/$n.csr" -CA "$s/ca-cert.pem" -CAkey "$s/ca-key.pem" -CAcreateserial \
            -out "$s/$n-cert.pem" -days 2 -extfile "$s/$n.ext"
    done
    cp "$s/ca-cert.pem" "$c/"; mv "$s/client-cert.pem" "$s/client-key.pem" "$c/"
}

echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "jvm: $(java -version 2>&1 | sed -n 2p)"
echo "peers: $(fio --version), nbdcopy $(nbdcopy --version | sed -n 1p | awk '{print $2}'), $(nbdkit --version)"
