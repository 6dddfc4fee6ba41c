#!/usr/bin/env bash
# Memory per connection: each proxy (wharf, the pingora floor, Traefik 3.7.15, nginx, HAProxy)
# serves one route on loopback, pinned to CPU 1. Its RSS is taken idle (after one request),
# with COUNT keep-alive connections open and idle (each having served one request), and
# after they have closed; each of the last two once it has settled (the lowest within 15 and
# 20 s). Prints MiB and KiB per connection.
#
#   bash benches/load/memory.sh [count=10000] [rounds=1]
#   PROXIES="wharf floor" bash benches/load/memory.sh ...
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT=${1:-10000}
ROUNDS=${2:-1}
source benches/lib.sh
bench_setup
ulimit -n "$(ulimit -Hn)"  # 10,000 connections need more than the usual 1,024 descriptors
cargo build --release -q -p wharf-benches --bin idle_conns
IDLE=$PWD/target/release/idle_conns

results="$work/memory.tsv"
for round in $(seq 1 "$ROUNDS"); do
  for proxy in ${PROXIES:-wharf floor traefik nginx haproxy}; do
    read -r pid port < <(start_proxy "$proxy")
    pids+=("$pid")
    wait_for_200 "$proxy" "$port"
    idle=$(rss_kib "$pid")
    fifo="$work/idle.fifo"; rm -f "$fifo"; mkfifo "$fifo"
    count=$COUNT
    [ "$proxy" = haproxy ] && [ "$count" -gt 9900 ] && count=9900  # its descriptor limit
    taskset -c 0 "$IDLE" "127.0.0.1:$port" bench.local "$count" < "$fifo" > "$work/idle.out" &
    client=$!
    exec 7>"$fifo"
    until grep -q '^ready' "$work/idle.out" 2>/dev/null; do
      kill -0 "$client" 2>/dev/null || { echo "$proxy: idle_conns failed"; exit 1; }
      sleep 0.2
    done
    # The lowest RSS within 15 s: allocators return what the ramp's requests in flight used
    # (jemalloc after its 10 s decay) while the connections stay open and idle.
    loaded=$(rss_kib "$pid")
    for _ in $(seq 1 30); do
      sleep 0.5
      now=$(rss_kib "$pid")
      [ "$now" -lt "$loaded" ] && loaded=$now
    done
    exec 7>&-   # the client reads EOF and closes every connection
    wait "$client"
    # The proxy has closed them when its established connections are back to its pool's.
    for _ in $(seq 1 100); do
      [ "$(established "$port")" -eq 0 ] && break
      sleep 0.1
    done
    # Allocators return freed memory after a delay (jemalloc's decay is 10 s): the lowest RSS
    # within 20 s, sooner once it is back within 10 % of idle.
    after=$(rss_kib "$pid")
    for _ in $(seq 1 40); do
      [ "$after" -le $((idle + idle / 10)) ] && break
      sleep 0.5
      now=$(rss_kib "$pid")
      [ "$now" -lt "$after" ] && after=$now
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
    printf '%s\t%s\t%s\t%s\t%s\n' "$proxy" "$idle" "$loaded" "$after" "$count" >> "$results"
  done
done

note="RSS, $COUNT idle keep-alive connections that each served one request, $ROUNDS round(s): medians (min–max)"
report memory "$results" "$note" memory
