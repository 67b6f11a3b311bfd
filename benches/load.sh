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
# ratios fork/upstream and fork/canned ("excess" is the part above the canned loop, the CPU
# time HTTP processing owns). Last, the server memory per idle keep-alive connection: the RSS
# growth while IDLE_CONNS connections wait for their next request.
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
base=$((30000 + RANDOM % 20000))
i=0
for side in $SIDES; do
    port[$side]=$((base + 2 * i))
    h2port[$side]=$((base + 2 * i + 1))
    i=$((i + 1))
    $server_cpu "$bin" serve --side "$side" --port "${port[$side]}" --h2-port "${h2port[$side]}" \
        >"$work/$side.out" 2>&1 &
    pid[$side]=$!
done
for side in $SIDES; do
    for _ in $(seq 100); do
        grep -q listening "$work/$side.out" && break
        sleep 0.1
    done
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

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

median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "rounds $ROUNDS x ${DURATION}s, $CONNS connections, server on ${server_cpu:-any cpu}, load on ${load_cpu:-any cpu}" >&2
for r in $(seq "$ROUNDS"); do
    for workload in $WORKLOADS; do
        # Alternate which side goes first, so drift in the machine's load hits all alike.
        sides=$SIDES
        [ $((r % 2)) -eq 0 ] && sides=$(echo "$SIDES" | tr ' ' '\n' | tac | tr '\n' ' ')
        for side in $sides; do
            [ "$side" = canned ] && [[ $workload == h2-* ]] && continue
            read -r n secs ticks < <(run "$workload" "$side")
            echo "$workload $side $n $secs $ticks" >>"$work/samples"
            echo "round $r $workload $side: $n requests in ${secs}s, $ticks ticks" >&2
        done
    done
done

printf '\n| workload | side | req/s | server CPU µs/req | fork/upstream | fork/canned | excess fork/upstream |\n'
printf '|---|---|---|---|---|---|---|\n'
for workload in $WORKLOADS; do
    declare -A us=() rps=()
    for side in $SIDES; do
        grep -q "^$workload $side " "$work/samples" || continue
        rps[$side]=$(awk -v w="$workload" -v s="$side" '$1 == w && $2 == s && $4 > 0 {print $3 / $4}' "$work/samples" | median)
        us[$side]=$(awk -v w="$workload" -v s="$side" -v t="$tick_us" '$1 == w && $2 == s && $3 > 0 {print $5 * t / $3}' "$work/samples" | median)
    done
    for side in $SIDES; do
        [ -n "${us[$side]:-}" ] || continue
        vs_up="" vs_canned="" excess=""
        if [ "$side" = fork ]; then
            [ -n "${us[upstream]:-}" ] && vs_up=$(awk -v a="${us[fork]}" -v b="${us[upstream]}" 'BEGIN {printf "%.2f", a / b}')
            if [ -n "${us[canned]:-}" ]; then
                vs_canned=$(awk -v a="${us[fork]}" -v b="${us[canned]}" 'BEGIN {printf "%.2f", a / b}')
                [ -n "${us[upstream]:-}" ] && excess=$(awk -v a="${us[fork]}" -v b="${us[upstream]}" -v c="${us[canned]}" \
                    'BEGIN {if (b - c > 0) printf "%.2f", (a - c) / (b - c); else print "-"}')
            fi
        fi
        printf '| %s | %s | %.0f | %.2f | %s | %s | %s |\n' "$workload" "$side" "${rps[$side]}" "${us[$side]}" "$vs_up" "$vs_canned" "$excess"
    done
    unset us rps
done

# Memory per idle keep-alive connection: the RSS growth of a fresh server (warmed by a few
# requests) while IDLE_CONNS clients that each sent one request wait for their next one.
# Measured on fresh processes: memory freed by the runs above would be reused and hide part
# of the growth. The canned loop is not an HTTP server and is left out.
printf '\n| side | RSS warmed | RSS with %d idle connections | per connection |\n|---|---|---|---|\n' "$IDLE_CONNS"
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
for side in $SIDES; do
    [ "$side" = canned ] && continue
    p=$((base + 100))
    $server_cpu "$bin" serve --side "$side" --port "$p" >"$work/mem.$side.out" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        grep -q listening "$work/mem.$side.out" && break
        sleep 0.1
    done
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
