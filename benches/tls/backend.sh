#!/usr/bin/env bash
# TLS to the backend, one core: plain-HTTP keep-alive requests (wrk, 16 connections) through
# wharf, Traefik 3.7.15 and nginx to an HTTPS nginx backend (ECDSA P-256 certificate, HTTP/1.1).
# Two routes: `pingora.local` through a serversTransport with only rootCAs (pingora's TLS
# client in wharf), `own.local` through one that also sets `minVersion: VersionTLS13` (wharf's
# own rustls client; maxVersion too, or Traefik drops the transport's TLS settings); nginx proxies with its upstream keep-alive. The proxy is pinned to CPU 1,
# wrk and the backend share CPU 0. Per route and proxy: requests/s, the proxy's CPU µs per
# request, and how many connections the backend accepted during the run (stub_status).
#
#   bash benches/tls/backend.sh [seconds-per-run=10] [rounds=3]
#   WHARF_BASE_BIN=/tmp/wharf-before bash benches/tls/backend.sh  # adds that build as `wharf-base`
#
# Compare numbers from the same run only (a shared 2-core machine varies by up to ±25 %).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
ROUNDS=${2:-3}

source benches/lib.sh
need_tools nginx:nginx-light wrk:wrk openssl:openssl
find_traefik
if [ -z "${WHARF_BIN:-}" ]; then cargo build --release -q -p wharf; fi
WHARF=${WHARF_BIN:-$PWD/target/release/wharf}

work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
chmod 755 "$work"

# A CA and the backend's certificate signed by it (rustls refuses a CA certificate as the leaf).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca-key.pem" \
  -out "$work/ca.pem" -days 30 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" \
  -out "$work/req.pem" -subj "/CN=backend.local" 2>/dev/null
printf 'subjectAltName=DNS:backend.local,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$work/ext.cnf"
openssl x509 -req -in "$work/req.pem" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" \
  -CAcreateserial -days 30 -extfile "$work/ext.cnf" -out "$work/cert.pem" 2>/dev/null
chmod 644 "$work/key.pem" "$work/cert.pem" "$work/ca.pem"  # nginx's worker is not root

BACKEND=127.0.0.1:19290
STATUS=127.0.0.1:19291
cat > "$work/backend.conf" <<NGX
daemon off; worker_processes 1; pid $work/backend.pid; error_log $work/backend.err;
events { worker_connections 4096; }
http { access_log off;
  server { listen $BACKEND ssl; keepalive_requests 1000000; keepalive_timeout 300s;
    ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { return 200 "hello\n"; } }
  server { listen $STATUS; location / { stub_status; } } }
NGX
taskset -c 0 nginx -c "$work/backend.conf" & pids+=($!)

cat > "$work/dyn.yml" <<YML
http:
  routers:
    pingora: {rule: "Host(\`pingora.local\`)", service: pingora}
    own: {rule: "Host(\`own.local\`)", service: own}
  services:
    pingora: {loadBalancer: {servers: [{url: "https://$BACKEND"}], serversTransport: pingora}}
    own: {loadBalancer: {servers: [{url: "https://$BACKEND"}], serversTransport: own}}
  serversTransports:
    pingora: {rootCAs: ["$work/ca.pem"], serverName: backend.local}
    own: {rootCAs: ["$work/ca.pem"], serverName: backend.local, minVersion: VersionTLS13, maxVersion: VersionTLS13}
YML
cat > "$work/proxy-nginx.conf" <<NGX
daemon off; worker_processes 1; pid $work/proxy.pid; error_log $work/proxy.err;
events { worker_connections 4096; }
http { access_log off;
  upstream backend { server $BACKEND; keepalive 128; }
  server { listen 127.0.0.1:19293; keepalive_requests 1000000;
    location / { proxy_pass https://backend; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_ssl_trusted_certificate $work/ca.pem; proxy_ssl_verify on;
      proxy_ssl_name backend.local; proxy_ssl_server_name on; proxy_ssl_protocols TLSv1.3; } } }
NGX

start() { # name -> pid, port
  case $1 in
    wharf|wharf-base)
      local bin=$WHARF port=19292
      [ "$1" = wharf-base ] && bin=$WHARF_BASE_BIN port=19294
      taskset -c 1 "$bin" --entryPoints.web.address=127.0.0.1:$port \
        --providers.file.filename="$work/dyn.yml" --log.level=ERROR >"$work/$1.log" 2>&1 &
      echo "$! $port" ;;
    traefik)
      taskset -c 1 "$TRAEFIK" --entryPoints.web.address=127.0.0.1:19295 \
        --providers.file.filename="$work/dyn.yml" --log.level=ERROR \
        --global.checkNewVersion=false --global.sendAnonymousUsage=false >"$work/traefik.log" 2>&1 &
      echo "$! 19295" ;;
    nginx) taskset -c 1 nginx -c "$work/proxy-nginx.conf" & echo "$! 19293" ;;
  esac
}
accepted() { curl -s "http://$STATUS/" | awk 'NR == 3 {print $1}'; }

results="$work/backend-tls.tsv"
for round in $(seq 1 "$ROUNDS"); do
  for proxy in wharf ${WHARF_BASE_BIN:+wharf-base} traefik nginx; do
    read -r pid port < <(start "$proxy")
    pids+=("$pid")
    routes="pingora own"
    [ "$proxy" = nginx ] && routes="own"  # one upstream, TLS 1.3 as the own route
    for route in $routes; do
      code=000
      for _ in $(seq 1 100); do
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $route.local" "http://127.0.0.1:$port/" || true)
        [ "$code" = 200 ] && break
        sleep 0.1
      done
      if [ "$code" != 200 ]; then
        echo "$proxy/$route never answered 200"; tail -n 20 "$work/$proxy.log" "$work/backend.err" || true; exit 1
      fi
      conns=$(accepted)
      before=$(cpu_ticks "$pid")
      out=$(taskset -c 0 wrk -t1 -c16 -d"${DURATION}s" -H "Host: $route.local" "http://127.0.0.1:$port/")
      after=$(cpu_ticks "$pid")
      conns=$(( $(accepted) - conns - 1 ))  # less the stub_status request itself
      read -r rps n non2xx < <(python3 -c '
import re, sys
out = sys.stdin.read()
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1), re.search(r"(\d+) requests in", out).group(1),
      bad.group(1) if bad else 0)' <<<"$out")
      [ "$non2xx" = 0 ] || { echo "$proxy/$route: $non2xx answers not 2xx"; exit 1; }
      cpu=$(python3 -c "print(($after-$before)*10000/max($n,1))")
      printf '%s (%s)\t%s\t%s\t%s\n' "$proxy" "$route" "$rps" "$cpu" "$conns" | tee -a "$results"
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
report backend_tls "$results" "TLS to the backend: wrk -c16, ${DURATION}s per run, ${ROUNDS} rounds, medians (min–max)" backend-tls
