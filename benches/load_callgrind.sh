#!/usr/bin/env bash
# Instructions per request of the load benchmark's server (examples/load_server), counted by
# valgrind's callgrind: unlike CPU time they do not move when other work shares the machine.
#
#   benches/load_callgrind.sh                 # keep-alive and 16-deep pipelining, all sides
#   SIDES="fork" WORKLOADS="keepalive" benches/load_callgrind.sh
#
# Each side serves a fixed number of requests (load_server drive) twice, N and 3N, under
# callgrind; the difference divided by 2N is the cost of one request without start-up.
# Only the server process is counted (user space; syscalls cost the same for every side).
# Keep the callgrind files for callgrind_annotate with KEEP=dir; a build with line tables
# (CARGO_PROFILE_RELEASE_DEBUG=line-tables-only) attributes inlined code to source lines.
set -euo pipefail

N=${N:-4000}
SIDES=${SIDES:-"fork upstream canned"}
WORKLOADS=${WORKLOADS:-"keepalive pipelined"}

command -v valgrind >/dev/null || { echo "load_callgrind.sh needs valgrind: apt-get install valgrind" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release --features full --example load_server >&2
bin="$root/target/release/examples/load_server"
out=${KEEP:-$(mktemp -d)}
mkdir -p "$out"

# count SIDE REQUESTS CONNS DEPTH TAG -> total instructions of the server run
count() {
    local side=$1 requests=$2 conns=$3 depth=$4 tag=$5 port=$((20000 + RANDOM % 20000))
    valgrind --tool=callgrind --callgrind-out-file="$out/$tag.out" \
        "$bin" serve --side "$side" --port "$port" >"$out/$tag.log" 2>&1 &
    local server=$!
    for _ in $(seq 300); do
        grep -q listening "$out/$tag.log" && break
        sleep 0.1
    done
    "$bin" drive --port "$port" --requests "$requests" --conns "$conns" --depth "$depth" >/dev/null
    kill -TERM "$server"
    wait "$server" 2>/dev/null || true
    awk '/^summary:/ {print $2}' "$out/$tag.out"
}

# allocs TAG -> calls to malloc, calloc and realloc recorded in the run's callgrind file
allocs() {
    awk '
        function named(s,    id, rest) {
            if (match(s, /^\([0-9]+\)/)) {
                id = substr(s, 1, RLENGTH); rest = substr(s, RLENGTH + 2)
                if (rest != "") fname[id] = rest
                return fname[id]
            }
            return s
        }
        /^fn=/ { named(substr($0, 4)) }
        /^cfn=/ { callee = named(substr($0, 5)) }
        /^calls=/ { split(substr($0, 7), a, " "); if (callee ~ /^(malloc|calloc|realloc)$/) n += a[1] }
        END { print n + 0 }
    ' "$out/$1.out"
}

printf '| workload | side | instructions per request | allocations per request |\n|---|---|---|---|\n'
for workload in $WORKLOADS; do
    case $workload in
    keepalive) conns=8 depth=1 ;;
    pipelined) conns=4 depth=16 ;;
    esac
    for side in $SIDES; do
        small=$(count "$side" "$N" "$conns" "$depth" "$workload-$side-1")
        large=$(count "$side" $((3 * N)) "$conns" "$depth" "$workload-$side-3")
        a_small=$(allocs "$workload-$side-1")
        a_large=$(allocs "$workload-$side-3")
        echo "| $workload | $side | $(((large - small) / (2 * N))) | $(awk -v a="$a_small" -v b="$a_large" -v n="$N" 'BEGIN {v = (b - a) / (2 * n); if (v < 0.005 && v > -0.005) v = 0; printf "%.2f", v}') |"
    done
done
[ -n "${KEEP:-}" ] || rm -rf "$out"
