#!/usr/bin/env bash
# Load comparison on loopback: wharf, the pingora floor (benches/src/bin/pingora_floor.rs),
# Traefik 3.7.15, nginx and HAProxy proxying the same route to the
# same backend. The proxy is pinned to CPU 1; wrk and the backend (nginx returning 6 bytes)
# share CPU 0. Prints requests/s, p50/p99 latency and proxy CPU time per request.
#
#   bash benches/load/run.sh [seconds-per-run=10] [connections=64] [rounds=3]
#   ROUTE=headers bash benches/load/run.sh ...      # through the Compose design's secure-headers + cors
#   ROUTE=forwardauth bash benches/load/run.sh ...  # through a forwardAuth (auth answered by the backend nginx)
#   ROUTE=compress bash benches/load/run.sh ...     # a 4 KiB text answer gzipped by `compress`
#   ROUTE=observe bash benches/load/run.sh ...      # plain route, with and without Prometheus
#                                                   # metrics + a JSON access log (wharf-obs, traefik-obs)
# With ROUTE set, only wharf and Traefik run (nginx has no equivalent middlewares).
# PROXIES="wharf floor" picks the proxies; with WHARF_BASE_BIN=path, `wharf-base` is that build.
#
# Caveats: a 2-core machine shared by load generator, backend and proxy; numbers vary by up to
# ±25 % between runs, so compare only numbers taken in the same run (the rounds interleave the
# proxies), and prefer CPU µs per request to raw requests/s.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUTE=${ROUTE:-plain}
DURATION=${1:-10}
CONNS=${2:-64}
ROUNDS=${3:-3}

case $ROUTE in
  plain) proxies="wharf floor traefik nginx haproxy" ;;
  headers|forwardauth) proxies="wharf traefik" ;;
  compress) proxies="wharf traefik"; TARGET=/big; EXTRA_HEADER="Accept-Encoding: gzip" ;;
  observe) proxies="wharf wharf-obs traefik traefik-obs" ;;
esac
proxies=${PROXIES:-$proxies}
source benches/lib.sh
bench_setup

results="$work/results.tsv"
for round in $(seq 1 "$ROUNDS"); do
  for proxy in $proxies; do
    read -r pid port < <(start_proxy "$proxy")
    pids+=("$pid")  # killed on exit too, even if the run fails
    wait_for_200 "$proxy" "$port"
    before=$(cpu_ticks "$pid")
    out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -H 'Host: bench.local' -H "${EXTRA_HEADER:-X-Bench: 1}" "http://127.0.0.1:$port${TARGET:-/}")
    after=$(cpu_ticks "$pid")
    rss=$(rss_kib "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "$out" | python3 -c '
import re, sys
out = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
total = int(re.search(r"(\d+) requests in", out).group(1))
def ms(label):
    m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)" % label, out)
    v = float(m.group(1)); return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
ticks = int(sys.argv[3]) - int(sys.argv[2])
cpu_us = ticks * 10000 / max(total, 1)
print(f"{sys.argv[1]}\t{rps:.0f}\t{ms(50):.2f}\t{ms(99):.2f}\t{cpu_us:.1f}\t{int(sys.argv[4])/1024:.1f}")
' "$proxy" "$before" "$after" "$rss" >> "$results"
  done
done

note="$ROUNDS rounds of $DURATION s, $CONNS connections, proxy on CPU 1: medians (min–max)"
report load "$results" "$note" load-$ROUTE
