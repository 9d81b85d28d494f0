# Shared set-up of compare.sh and transports.sh; sourced, not run. Before sourcing, set SIZE, REPEAT, RUNTIME, RAMP
# and COPY_SIZE to their defaults; this parses the options into them, checks the tools, and defines $here, NBD (the
# launcher, with its default JVM options), $dir (a temporary directory removed at exit, with every server started
# by start_server stopped), start_server and stop_server. Prints the machine and the peers' versions.

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
"${NBD[@]}" --version >/dev/null   # the first run after a build records bin/nbd's class-data archive; not timed

dir=$(mktemp -d /tmp/nbd-bench.XXXXXX)
# Servers are started in command substitutions (subshells), so they are found through their pid files.
cleanup() { for f in "$dir"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done; rm -rf "$dir"; }
trap cleanup EXIT

start_server() { # name size
    local sock="$dir/$1.sock"
    nbdkit -U "$sock" -P "$dir/$1.pid" memory "size=$2"
    # Fill it with random data (from nbdkit's random plugin) so reads are of real pages, not the zero fast path.
    nbdkit -U "$dir/$1-fill.sock" -P "$dir/$1-fill.pid" random "size=$2"
    nbdcopy "nbd+unix:///?socket=$dir/$1-fill.sock" "nbd+unix:///?socket=$sock"
    kill "$(cat "$dir/$1-fill.pid")"; rm -f "$dir/$1-fill.pid"
    echo "nbd+unix:///?socket=$sock"
}
stop_server() { kill "$(cat "$dir/$1.pid")"; rm -f "$dir/$1.pid"; }

echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "jvm: $(java -version 2>&1 | sed -n 2p)"
echo "peers: $(fio --version), nbdcopy $(nbdcopy --version | sed -n 1p | awk '{print $2}'), $(nbdkit --version)"
