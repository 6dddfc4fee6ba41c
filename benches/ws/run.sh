#!/usr/bin/env bash
# WebSocket throughput through wharf, the pingora floor, Traefik 3.7.15, nginx and HAProxy:
# CONNS WebSockets through the same Host route to one echo server (benches/src/bin/ws_load.rs,
# on CPU 0 with the client), each sending a 32-byte text message and awaiting its echo, again
# and again. The proxy is pinned to CPU 1. Prints round trips/s and the proxy's CPU µs per round
# trip (two frames through the proxy).
#
#   bash benches/ws/run.sh [seconds-per-run=10] [connections=64] [rounds=3]
#   PROXIES="wharf nginx" bash benches/ws/run.sh ...
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
CONNS=${2:-64}
ROUNDS=${3:-3}
UPSTREAM=127.0.0.1:19480
source benches/lib.sh
bench_setup
cargo build --release -q -p wharf-benches --bin ws_load
WS_LOAD=$PWD/target/release/ws_load
taskset -c 0 "$WS_LOAD" serve "$UPSTREAM" & pids+=($!)

results="$work/ws.tsv"
for round in $(seq 1 "$ROUNDS"); do
  for proxy in ${PROXIES:-wharf floor traefik nginx haproxy}; do
    read -r pid port < <(start_proxy "$proxy")
    pids+=("$pid")
    # ws_load retries its connections until the proxy listens (10 s at most).
    before=$(cpu_ticks "$pid")
    read -r rate total < <(taskset -c 0 "$WS_LOAD" run "127.0.0.1:$port" "$DURATION" "$CONNS" bench.local)
    after=$(cpu_ticks "$pid")
    rss=$(rss_kib "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    python3 -c 'import sys; p, rate, total, b, a, rss = sys.argv[1:]
print(f"{p}\t{rate}\t{(int(a) - int(b)) * 10000 / max(int(total), 1):.1f}\t{int(rss) / 1024:.1f}")' \
      "$proxy" "$rate" "$total" "$before" "$after" "$rss" >> "$results"
  done
done

note="$ROUNDS rounds of $DURATION s, $CONNS WebSockets, 32-byte messages echoed, proxy on CPU 1: medians (min–max)"
report ws "$results" "$note" ws
