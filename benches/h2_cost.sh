#!/usr/bin/env bash
# What a small HTTP/2 request costs the server, fork vs upstream hyper 1.13.0.
#
# Serves 13-byte responses with examples/h2_server_cost.rs to h2load (8 connections x 16
# concurrent streams, over TCP loopback) and measures the server process two ways:
#   - instructions per request: callgrind runs with two request counts; the difference of the
#     totals over the difference of the counts removes start-up and connection set-up;
#   - CPU per request: a native run, server pinned to core 0 and h2load to core 1, the
#     server's CPU time (utime + stime from /proc/self/stat, which it prints when it exits)
#     over the requests, median of RUNS runs.
# Needs valgrind and h2load (apt-get install valgrind nghttp2-client).
#
#   benches/h2_cost.sh [instructions|cpu|both]
# Request counts, runs and port: H2_COST_SMALL, H2_COST_LARGE, H2_COST_CPU_REQUESTS,
# H2_COST_RUNS, H2_COST_PORT.
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

# H2_COST_SERVER names another build of the example (say, of an older commit) to measure.
server=${H2_COST_SERVER:-target/release/examples/h2_server_cost}
if [ -z "${H2_COST_SERVER:-}" ]; then
    cargo build --release --features full --example h2_server_cost >&2
fi
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
    start_server "$side" >/dev/null 2>&1
    load "$n"
    wait "$server_pid"
    grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}'
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
    # One native run: the server's CPU nanoseconds per request.
    cpu_run() {
        wrap="taskset -c 0"
        start_server "$1" >"$work/server.out"
        taskset -c 1 h2load -n "$cpu_requests" -c "$clients" -m "$streams" \
            "http://127.0.0.1:$port/" >"$work/h2load.out"
        wait "$server_pid"
        ticks=$(awk '/^cpu_ticks/ {print $2}' "$work/server.out")
        echo $(( ticks * 1000000000 / hz / cpu_requests ))
    }
    median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
    # Rounds of one run per side, the side going first alternating, since on a shared
    # machine the load drifts between runs; the per-round ratio is the number to trust.
    fork_ns=() upstream_ns=() ratios=()
    for round in $(seq 1 "$runs"); do
        if [ $(( round % 2 )) = 1 ]; then
            f=$(cpu_run fork); u=$(cpu_run upstream)
        else
            u=$(cpu_run upstream); f=$(cpu_run fork)
        fi
        fork_ns+=("$f") upstream_ns+=("$u")
        ratios+=("$(awk -v f="$f" -v u="$u" 'BEGIN {printf "%.3f", f / u}')")
        echo "round $round: fork $f ns, upstream $u ns" >&2
    done
    echo "fork: $(median "${fork_ns[@]}") ns CPU per request (median of $runs)"
    echo "upstream: $(median "${upstream_ns[@]}") ns CPU per request (median of $runs)"
    echo "fork / upstream: $(median "${ratios[@]}") (median of per-round ratios: ${ratios[*]})"
fi
