#!/usr/bin/env bash
# The load benchmark: the same server app (examples/load_server/app.rs) on the fork, on
# upstream hyper 1.13.0 and as a canned-bytes loop, under wrk (HTTP/1) and h2load (HTTP/2).
#
#   benches/load.sh                  # defaults: ROUNDS=5 DURATION=4
#   ROUNDS=3 DURATION=2 WORKLOADS="small pipelined" benches/load.sh
#
# The server runs on one core and the load generator on another (taskset, when there are
# two or more). For every workload and side it records requests per second and the server's
# CPU time per request (utime + stime from /proc/<pid>/stat, before and after the run),
# alternating the sides within each round, and prints the medians over the rounds with the
# ratios fork/upstream and fork/canned, taken within each round ("excess" compares the parts
# above the canned loop, the CPU time HTTP processing owns). Last, the server memory per idle
# keep-alive connection: the RSS growth while IDLE_CONNS connections wait for their next
# request.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-4}
CONNS=${CONNS:-32}
IDLE_CONNS=${IDLE_CONNS:-2000}
WORKLOADS=${WORKLOADS:-"small pipelined large chunked h2-small h2-large"}
SIDES=${SIDES:-"fork upstream canned"}

for tool in wrk h2load taskset; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "load.sh needs wrk, h2load and taskset: apt-get install wrk nghttp2-client util-linux" >&2
        exit 1
    fi
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release --features full --example load_server >&2
bin="$root/target/release/examples/load_server"
work=$(mktemp -d)
trap 'for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

if [ "$(nproc)" -ge 2 ]; then
    server_cpu="taskset -c 0"
    load_cpu="taskset -c 1"
else
    server_cpu=""
    load_cpu=""
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
tick_us=$((1000000 / $(getconf CLK_TCK)))

cat >"$work/pipeline.lua" <<'EOF'
-- 16 requests per write; wrk counts every response.
init = function(args)
    local r = {}
    for i = 1, 16 do
        r[i] = wrk.format(nil, "/")
    end
    req = table.concat(r)
end
request = function()
    return req
end
EOF

declare -A port h2port pid
# start_server SIDE OUTFILE [--h2-port 0]: the system picks free ports (a fixed or random
# choice can collide with the many client ports of the runs); sets $started_pid and
# $started_ports ("H1 H2") once the server listens, or stops the benchmark.
start_server() {
    local side=$1 outfile=$2
    shift 2
    $server_cpu "$bin" serve --side "$side" --port 0 "$@" >"$outfile" 2>&1 &
    started_pid=$!
    for _ in $(seq 200); do
        grep -q '^listening' "$outfile" && break
        kill -0 "$started_pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q '^listening' "$outfile"; then
        echo "the $side server did not start:" >&2
        cat "$outfile" >&2
        exit 1
    fi
    started_ports=$(awk '/^listening/ {print $2, $3; exit}' "$outfile")
}
for side in $SIDES; do
    start_server "$side" "$work/$side.out" --h2-port 0
    pid[$side]=$started_pid
    read -r "port[$side]" "h2port[$side]" <<<"$started_ports"
done

cpu_ticks() {
    if [ ! -e "/proc/$1/stat" ]; then
        echo "server $1 is gone:" >&2
        cat "$work"/*.out >&2
        exit 1
    fi
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# run WORKLOAD SIDE -> prints "requests seconds ticks"
run() {
    local workload=$1 side=$2 p=${port[$2]} hp=${h2port[$2]} before after out
    before=$(cpu_ticks "${pid[$side]}")
    case $workload in
    small) out=$($load_cpu wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$p/") ;;
    pipelined) out=$($load_cpu wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$work/pipeline.lua" "http://127.0.0.1:$p/") ;;
    large) out=$($load_cpu wrk -t1 -c4 -d"${DURATION}s" "http://127.0.0.1:$p/large") ;;
    chunked) out=$($load_cpu wrk -t1 -c4 -d"${DURATION}s" "http://127.0.0.1:$p/chunked") ;;
    h2-small) out=$($load_cpu h2load -c"$CONNS" -m10 -D"$DURATION" "http://127.0.0.1:$hp/" 2>&1) ;;
    h2-large) out=$($load_cpu h2load -c4 -m1 -D"$DURATION" "http://127.0.0.1:$hp/large" 2>&1) ;;
    esac
    after=$(cpu_ticks "${pid[$side]}")
    local n secs
    case $workload in
    h2-*)
        n=$(echo "$out" | awk '/^requests:/ {print $8}')
        secs=$(echo "$out" | awk '/^finished in/ {v=$3; sub(/s,$/, "", v); if (v ~ /ms/) {sub(/ms/, "", v); v = v / 1000}; print v}')
        ;;
    *)
        n=$(echo "$out" | awk '/requests in/ {print $1}')
        secs=$(echo "$out" | awk '/requests in/ {v=$4; sub(/,$/, "", v); if (v ~ /ms$/) {sub(/ms$/, "", v); v = v / 1000} else sub(/s$/, "", v); print v}')
        ;;
    esac
    echo "${n:-0} ${secs:-0} $((after - before))"
}

echo "rounds $ROUNDS x ${DURATION}s, $CONNS connections, server on ${server_cpu:-any cpu}, load on ${load_cpu:-any cpu}" >&2
for r in $(seq "$ROUNDS"); do
    for workload in $WORKLOADS; do
        # Alternate which side goes first, so drift in the machine's load hits all alike.
        sides=$SIDES
        [ $((r % 2)) -eq 0 ] && sides=$(echo "$SIDES" | tr ' ' '\n' | tac | tr '\n' ' ')
        for side in $sides; do
            [ "$side" = canned ] && [[ $workload == h2-* ]] && continue
            read -r n secs ticks < <(run "$workload" "$side")
            echo "$r $workload $side $n $secs $ticks" >>"$work/samples"
            echo "round $r $workload $side: $n requests in ${secs}s, $ticks ticks" >&2
        done
    done
done

# Per workload: medians over the rounds of each side's CPU per request and req/s, and the
# medians of the ratios taken within each round (the sides of a round ran back to back, so
# their ratio is steadier than the ratio of medians). "excess" is (fork - canned) /
# (upstream - canned): the fork's HTTP cost as a share of upstream's.
printf '\n| workload | fork µs/req | upstream µs/req | canned µs/req | fork/upstream | fork/canned | excess fork/upstream | fork req/s | upstream req/s | canned req/s |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
awk -v t="$tick_us" -v order="$WORKLOADS" '
    function median(list,    n, a, i, j, x) {
        n = split(list, a, " ")
        if (n == 0) return ""
        for (i = 2; i <= n; i++) { x = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmt(v, d) { return v == "" ? "-" : sprintf("%." d "f", v) }
    $4 > 0 && $5 > 0 {
        us[$1, $2, $3] = $6 * t / $4
        rps[$2, $3] = rps[$2, $3] " " $4 / $5
        cpu[$2, $3] = cpu[$2, $3] " " us[$1, $2, $3]
        rounds[$1] = 1
    }
    END {
        n = split(order, ws, " ")
        for (k = 1; k <= n; k++) {
            w = ws[k]; fu = fc = ex = ""
            for (r in rounds) {
                f = us[r, w, "fork"]; u = us[r, w, "upstream"]; c = us[r, w, "canned"]
                if (f != "" && u != "") fu = fu " " f / u
                if (f != "" && c != "") fc = fc " " f / c
                if (f != "" && u != "" && c != "" && u > c) ex = ex " " (f - c) / (u - c)
            }
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", w,
                fmt(median(cpu[w, "fork"]), 2), fmt(median(cpu[w, "upstream"]), 2), fmt(median(cpu[w, "canned"]), 2),
                fmt(median(fu), 2), fmt(median(fc), 2), fmt(median(ex), 2),
                fmt(median(rps[w, "fork"]), 0), fmt(median(rps[w, "upstream"]), 0), fmt(median(rps[w, "canned"]), 0)
        }
    }' "$work/samples"

# Memory per idle keep-alive connection: the RSS growth of a fresh server (warmed by a few
# requests) while IDLE_CONNS clients that each sent one request wait for their next one.
# Measured on fresh processes: memory freed by the runs above would be reused and hide part
# of the growth. The canned loop is not an HTTP server and is left out.
printf '\n| side | RSS warmed | RSS with %d idle connections | per connection |\n|---|---|---|---|\n' "$IDLE_CONNS"
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
for side in $SIDES; do
    [ "$side" = canned ] && continue
    start_server "$side" "$work/mem.$side.out"
    server=$started_pid
    p=${started_ports%% *}
    "$bin" drive --port "$p" --requests 200 --conns 4 >/dev/null
    sleep 0.5
    before=$(rss_kb "$server")
    fifo="$work/idle.$side"
    mkfifo "$fifo"
    $load_cpu "$bin" idle --port "$p" --conns "$IDLE_CONNS" <"$fifo" >"$work/idle.$side.out" &
    idle_pid=$!
    exec 9>"$fifo"
    for _ in $(seq 600); do
        grep -q '^idle' "$work/idle.$side.out" 2>/dev/null && break
        sleep 0.1
    done
    sleep 1
    after=$(rss_kb "$server")
    exec 9>&-
    wait "$idle_pid" || true
    kill "$server"
    wait "$server" 2>/dev/null || true
    awk -v s="$side" -v b="$before" -v a="$after" -v n="$IDLE_CONNS" \
        'BEGIN {printf "| %s | %d KB | %d KB | %.2f KB |\n", s, b, a, (a - b) / n}'
done
