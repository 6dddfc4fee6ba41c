#!/usr/bin/env bash
# The whole comparison in one command: wharf, the pingora floor, Traefik 3.7.15, nginx and
# HAProxy side by side on this machine (load/run.sh and load/rate.sh on the plain route, then wharf and Traefik
# through the design's middlewares, load/memory.sh, tls/run.sh, tls/backend.sh, h2/run.sh, ws/run.sh, callgrind/run.sh), written to
# benches/RESULTS.md with the machine, the method, each figure's spread and the ratios.
#
#   bash benches/compare.sh [seconds-per-run=10] [rounds=3]
#
# About 30 minutes with the defaults, plus the builds (the image profile's takes ~30 more). Run nothing else meanwhile: the proxies' CPU time is
# measured. Each script also runs alone (see benches/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
ROUNDS=${2:-3}
OUT=${OUT:-benches/RESULTS.md}

RESULTS_DIR=$(mktemp -d)
export RESULTS_DIR
trap 'rm -rf "$RESULTS_DIR"' EXIT

# Built once here; the scripts then reuse these binaries. wharf is measured as its container
# image ships it (the `image` profile: fat LTO, stripped), the instruction counts on the release
# build that their committed baseline was taken with.
source scripts/deps.sh
# WHARF_BIN=path measures a binary built elsewhere (e.g. the same commit's image build).
if [ -z "${WHARF_BIN:-}" ]; then
  cargo build --profile image -q -p wharf
  WHARF_BIN=$PWD/target/image/wharf
fi
export WHARF_BIN
cargo build --release -q -p wharf

bash benches/load/run.sh "$DURATION" 64 "$ROUNDS"
bash benches/load/rate.sh "$DURATION" 3000 64 "$ROUNDS"
ROUTE=headers bash benches/load/run.sh "$DURATION" 64 "$ROUNDS"
ROUTE=forwardauth bash benches/load/run.sh "$DURATION" 64 "$ROUNDS"
bash benches/load/memory.sh 10000 "$ROUNDS"
bash benches/tls/run.sh "$DURATION" "$ROUNDS"
bash benches/tls/backend.sh "$DURATION" "$ROUNDS"
bash benches/h2/run.sh "$DURATION" 16 8 "$ROUNDS"
bash benches/ws/run.sh "$DURATION" 64 "$ROUNDS"
WHARF_BIN=$PWD/target/release/wharf bash benches/callgrind/run.sh

traefik=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/traefik
{
  echo "args=$DURATION $ROUNDS"
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (with local changes)')"
  echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "cores=$(nproc)"
  echo "kernel=$(uname -r)"
  echo "rustc=$(rustc --version)"
  echo "nginx=$(nginx -v 2>&1 | sed 's/.*: //')"
  echo "haproxy=$(haproxy -v | sed -n '1s/ - .*//p')"
  echo "traefik=$("$traefik" version | awk '/Version/ {print $2; exit}')"
} > "$RESULTS_DIR/meta.txt"
cat > "$RESULTS_DIR/method.md" <<MD
Every proxy serves the same Host route on loopback to the same nginx backend (6 bytes),
pinned to CPU 1; the load generator (wrk, one thread) and the backend share CPU 0. Each round
starts every proxy afresh, one after the other, so the rounds interleave the proxies; a figure
is the median of $ROUNDS rounds, with the lowest and highest in brackets. CPU time is the
proxy's (and its workers') user + system time from /proc over the run, divided by the requests
served. RSS is VmRSS, summed over the proxy's processes. A machine of this kind varies by up to
3x from one to the next and by ±25 % between runs on one: only figures from this file compare
with each other, and the ratios are what count. Instruction counts (callgrind) do not depend
on the machine's speed or load. wharf is the container image's build (\`--profile image\`);
its instruction counts are the release build's, as their committed baseline.
MD
python3 benches/report.py full "$RESULTS_DIR" > "$OUT"
echo "wrote $OUT"
