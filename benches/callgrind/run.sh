#!/usr/bin/env bash
# Instructions per request (valgrind's callgrind): wharf on a plain Host route, on the design's
# secure-headers + cors chain, through a forwardAuth, and on the plain route with Prometheus
# metrics and a JSON access log on (`observed`), each with a fixed load (REQUESTS
# sequential keep-alive requests after a warm-up) counted from the first to the last of them.
# Instruction counts do not depend on the machine's speed or load: this is how a change is judged.
#
#   bash benches/callgrind/run.sh            # prints instructions per request per route
#   bash benches/callgrind/run.sh --check    # and fails if one is > 10 % above baseline.txt
#   bash benches/callgrind/run.sh --bless    # writes baseline.txt
#   ROUTES=plain PROFILES=/tmp/cg bash benches/callgrind/run.sh   # keeps the profiles
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-}
REQUESTS=${REQUESTS:-2000}
WARMUP=${WARMUP:-200}
BASELINE=benches/callgrind/baseline.txt

if ! command -v valgrind >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi
if [ -z "${WHARF_BIN:-}" ]; then cargo build --release -q -p wharf; fi
WHARF=${WHARF_BIN:-$PWD/target/release/wharf}
# The backend and the client are not measured: the test build's profile will do.
cargo build -q -p wharf-testkit --bin wharf-echo -p wharf-benches --bin requests
ECHO=$PWD/target/debug/wharf-echo
REQ=$PWD/target/debug/requests

work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

BACKEND_PORT=19380
ECHO_NAME=bench "$ECHO" "$BACKEND_PORT" 2>/dev/null & pids+=($!)
BACKEND=127.0.0.1:$BACKEND_PORT

route_config() { # route -> dynamic config
  local middlewares
  case $1 in
    plain|observed) middlewares="[]" ;;
    headers) middlewares="[secure-headers, cors]" ;;
    forwardauth) middlewares="[api-auth]" ;;
  esac
  cat <<YML
http:
  routers:
    bench: {rule: "Host(\`bench.local\`)", service: backend, middlewares: $middlewares}
  services:
    backend: {loadBalancer: {servers: [{url: "http://$BACKEND"}]}}
  middlewares:
$(sed -n '/^    secure-headers:$/,/^    api-auth:$/p' config/traefik/middleware.yml | sed '$d')
    api-auth:
      forwardAuth:
        address: "http://$BACKEND/auth"
        authResponseHeaders: ["X-Auth-User", "X-Auth-Roles"]
YML
}

results="$work/results.tsv"
for route in ${ROUTES:-plain headers forwardauth observed}; do
  route_config "$route" > "$work/$route.yml"
  observability=()
  if [ "$route" = observed ]; then
    # The log goes in a directory of its own, as in a deployment (/var/log, not beside the
    # config): a file in the file provider's watched directory would wake its watcher on
    # every write, a cost that is not the log's.
    mkdir -p "$work/logs"
    observability=(--metrics.prometheus=true --accesslog=true --accesslog.format=json
      "--accesslog.filePath=$work/logs/access.log")
  fi
  # Instrumentation starts off (start-up is not measured, and runs at near native speed).
  # On one core, as the design's half core runs it (one data-plane thread), as the load benches.
  taskset -c 1 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.$route.%p" \
    "$WHARF" --entryPoints.web.address=127.0.0.1:19381 --providers.file.filename="$work/$route.yml" \
    --log.level=ERROR "${observability[@]}" >"$work/$route.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  ok=
  for _ in $(seq 1 600); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.local' http://127.0.0.1:19381/ || true)" = 200 ]; then ok=1; break; fi
    sleep 0.2
  done
  [ -n "$ok" ] || { echo "wharf under callgrind never answered 200 ($route)"; cat "$work/$route.log"; exit 1; }
  "$REQ" 127.0.0.1:19381 bench.local "$WARMUP" >/dev/null
  callgrind_control --instr=on "$pid" >/dev/null 2>&1
  "$REQ" 127.0.0.1:19381 bench.local "$REQUESTS" >/dev/null
  callgrind_control --instr=off "$pid" >/dev/null 2>&1
  callgrind_control --dump "$pid" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # PROFILES=dir keeps the profiles, for callgrind_annotate.
  if [ -n "${PROFILES:-}" ]; then mkdir -p "$PROFILES"; cp "$work"/cg."$route".* "$PROFILES"/; fi
  # The dump's totals: instructions executed while instrumented (all threads).
  total=$(cat "$work"/cg."$route".*  | awk '/^(summary|totals):/ {s+=$2} END {print s}')
  printf '%s\t%s\n' "$route" "$(( total / REQUESTS ))" >> "$results"
done

if [ -n "${RESULTS_DIR:-}" ]; then  # for benches/compare.sh
  cp "$results" "$RESULTS_DIR/callgrind.tsv"
  echo "$REQUESTS sequential keep-alive requests after $WARMUP of warm-up, release build." > "$RESULTS_DIR/callgrind.note"
fi
python3 - "$results" "$BASELINE" "$MODE" "$REQUESTS" <<'PY'
import sys
rows = dict(l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l)
baseline_path, mode, n = sys.argv[2], sys.argv[3], sys.argv[4]
baseline = {}
try:
    for line in open(baseline_path):
        if line.strip() and not line.startswith("#"):
            k, v = line.split()
            baseline[k] = int(v)
except FileNotFoundError:
    pass
print(f"\ninstructions per request (callgrind, {n} sequential keep-alive requests)\n")
print(f"{'route':12} {'now':>10} {'baseline':>10} {'change':>8}")
failed = []
for route, v in rows.items():
    v = int(v); b = baseline.get(route)
    change = f"{(v - b) / b * 100:+.1f}%" if b else "-"
    print(f"{route:12} {v:10d} {b if b else '-':>10} {change:>8}")
    if b and v > b * 1.10:
        failed.append(route)
if mode == "--bless":
    with open(baseline_path, "w") as f:
        f.write("# Instructions per request, benches/callgrind/run.sh --bless (x86_64, release build).\n")
        for route, v in rows.items():
            f.write(f"{route} {v}\n")
    print(f"\nwrote {baseline_path}")
elif mode == "--check" and failed:
    print(f"\nFAILED: more than 10 % above the baseline: {', '.join(failed)}")
    print("Find the change that costs it (callgrind_annotate), or, if it is worth it, re-bless with --bless.")
    sys.exit(1)
PY
