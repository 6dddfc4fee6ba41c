#!/usr/bin/env bash
# Latency at a fixed request rate: wharf, the pingora floor, Traefik 3.7.15, nginx and HAProxy
# on the plain route of load/run.sh (proxy on CPU 1, client and backend on CPU 0), loaded at
# RATE requests/s by oha (an open-loop client with latency correction: a late request counts
# from when it was due, so a stall is not hidden). Prints p50, p99 and p99.9.
#
#   bash benches/load/rate.sh [seconds-per-run=10] [rate=3000] [connections=64] [rounds=3]
#   PROXIES="wharf nginx" bash benches/load/rate.sh ...
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
RATE=${2:-3000}
CONNS=${3:-64}
ROUNDS=${4:-3}
source benches/lib.sh
bench_setup
# oha (crates.io) is the rate-limited client: wrk2 is not packaged here.
command -v oha >/dev/null || cargo install -q --locked oha

results="$work/rate.tsv"
for round in $(seq 1 "$ROUNDS"); do
  for proxy in ${PROXIES:-wharf floor traefik nginx haproxy}; do
    read -r pid port < <(start_proxy "$proxy")
    pids+=("$pid")
    wait_for_200 "$proxy" "$port"
    before=$(cpu_ticks "$pid")
    out=$(taskset -c 0 oha -z "${DURATION}s" -q "$RATE" -c "$CONNS" --latency-correction \
      --no-tui --output-format json -H 'Host: bench.local' "http://127.0.0.1:$port/")
    after=$(cpu_ticks "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
codes = d["statusCodeDistribution"]
ok = codes.get("200", 0)
# oha stops at the deadline: only requests it aborted then may count as errors.
errors = {k: v for k, v in d["errorDistribution"].items() if "deadline" not in k}
if errors or ok != sum(codes.values()):
    sys.exit(f"{sys.argv[1]}: answers {codes}, errors {errors}")
p = d["latencyPercentiles"]
ms = [p[k] * 1000 for k in ("p50", "p99", "p99.9")]
rps = d["summary"]["requestsPerSec"]
ticks = int(sys.argv[3]) - int(sys.argv[2])
cpu_us = ticks * 10000 / max(ok, 1)
print(f"{sys.argv[1]}\t{rps:.0f}\t{ms[0]:.3f}\t{ms[1]:.3f}\t{ms[2]:.3f}\t{cpu_us:.1f}")
' "$proxy" "$before" "$after" >> "$results"
  done
done

note="$RATE requests/s for $DURATION s over $CONNS connections, $ROUNDS rounds, proxy on CPU 1: medians (min–max)"
report rate "$results" "$note" rate
