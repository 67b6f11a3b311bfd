#!/usr/bin/env bash
# What a small HTTP/2 request costs the server, fork vs upstream hyper 1.13.0.
#
# Serves 13-byte responses with examples/h2_server_cost.rs to h2load (8 connections x 16
# concurrent streams, over TCP loopback) and measures the server process two ways:
#   - instructions per request: callgrind runs with two request counts; the difference of the
#     totals over the difference of the counts removes start-up and connection set-up;
#   - CPU per request: a native run, server pinned to core 0 and h2load to core 1, CPU time
#     from /proc/<pid>/stat (utime + stime), median of RUNS runs.
# Needs valgrind and h2load (apt-get install valgrind nghttp2-client).
#
#   benches/h2_cost.sh [instructions|cpu|both]
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-both}
port=${H2_COST_PORT:-38917}
small=${H2_COST_SMALL:-2000}
large=${H2_COST_LARGE:-12000}
cpu_requests=${H2_COST_CPU_REQUESTS:-400000}
runs=${H2_COST_RUNS:-3}
clients=8
streams=16

cargo build --release --features full --example h2_server_cost >&2
server=target/release/examples/h2_server_cost
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Starts the server (under $wrap, if set) for $clients connections and waits until it listens.
start_server() {
    local side=$1
    rm -f "$work/ready"
    $wrap "$server" "$side" "127.0.0.1:$port" "$clients" "$work/ready" &
    server_pid=$!
    for _ in $(seq 1 600); do
        [ -e "$work/ready" ] && return 0
        sleep 0.1
    done
    echo "server did not start" >&2
    exit 1
}

load() {
    h2load -n "$1" -c "$clients" -m "$streams" "http://127.0.0.1:$port/" >"$work/h2load.out"
    grep -qE "[0-9]+ succeeded, 0 failed, 0 errored" "$work/h2load.out" || {
        cat "$work/h2load.out" >&2
        exit 1
    }
}

instructions() {
    local side=$1 n=$2 out="$work/callgrind.$1.$2"
    wrap="valgrind --tool=callgrind --callgrind-out-file=$out"
    start_server "$side" 2>/dev/null
    load "$n"
    wait "$server_pid"
    grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}'
}

cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat"
}

if [ "$what" = instructions ] || [ "$what" = both ]; then
    for side in fork upstream; do
        a=$(instructions "$side" "$small")
        b=$(instructions "$side" "$large")
        echo "$side: $(( (b - a) / (large - small) )) instructions per request" \
            "(callgrind totals $a for $small requests, $b for $large)"
    done
fi

if [ "$what" = cpu ] || [ "$what" = both ]; then
    hz=$(getconf CLK_TCK)
    for side in fork upstream; do
        results=()
        for _ in $(seq 1 "$runs"); do
            wrap="taskset -c 0"
            start_server "$side"
            before=$(cpu_ticks "$server_pid")
            taskset -c 1 h2load -n "$cpu_requests" -c "$clients" -m "$streams" \
                "http://127.0.0.1:$port/" >"$work/h2load.out"
            after=$(cpu_ticks "$server_pid")
            wait "$server_pid"
            results+=("$(( (after - before) * 1000000000 / hz / cpu_requests ))")
        done
        sorted=$(printf '%s\n' "${results[@]}" | sort -n | tr '\n' ' ')
        median=$(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
        echo "$side: $median ns CPU per request (median; runs: $sorted)"
    done
fi
