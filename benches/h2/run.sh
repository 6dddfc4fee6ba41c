#!/usr/bin/env bash
# HTTP/2 over cleartext (h2c, prior knowledge) through wharf, Traefik 3.7.15, nginx and HAProxy:
# the same route to the same HTTP/1.1 nginx backend as load/run.sh, the proxy pinned to CPU 1,
# h2load (nghttp2) and the backend on CPU 0. CONNS connections with STREAMS concurrent streams
# each. Prints requests/s, mean latency and the proxy's CPU µs per request.
#
#   bash benches/h2/run.sh [seconds-per-run=10] [connections=16] [streams=8] [rounds=3]
#   PROXIES="wharf nginx" bash benches/h2/run.sh ...
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
CONNS=${2:-16}
STREAMS=${3:-8}
ROUNDS=${4:-3}
source benches/lib.sh
bench_setup
command -v h2load >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client >/dev/null
}

# nginx and HAProxy speak h2c on their own listeners; wharf and Traefik on their usual one.
cat > "$work/proxy-nginx-h2c.conf" <<NGX
daemon off; worker_processes 1; pid $work/proxy-h2c.pid; error_log $work/proxy-h2c.err;
worker_rlimit_nofile 65536;
events { worker_connections 30000; }
http { access_log off;
  upstream backend { server $UPSTREAM; keepalive 128; }
  server { listen 127.0.0.1:19193 http2 backlog=4096; server_name bench.local;
    keepalive_requests 1000000; keepalive_timeout 300s; http2_max_concurrent_streams 128;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NGX
sed 's/^  bind 127.0.0.1:19186$/  bind 127.0.0.1:19196 proto h2/' "$work/haproxy.cfg" > "$work/haproxy-h2c.cfg"

start_h2c_proxy() { # name -> pid, port
  case $1 in
    nginx) taskset -c 1 nginx -c "$work/proxy-nginx-h2c.conf" & echo "$! 19193" ;;
    haproxy) taskset -c 1 haproxy -W -db -f "$work/haproxy-h2c.cfg" >"$work/haproxy.log" 2>&1 &
             echo "$! 19196" ;;
    *) start_proxy "$1" ;;
  esac
}

results="$work/h2c.tsv"
for round in $(seq 1 "$ROUNDS"); do
  for proxy in ${PROXIES:-wharf traefik nginx haproxy}; do
    read -r pid port < <(start_h2c_proxy "$proxy")
    pids+=("$pid")
    # An h2c request answered 200 (the HTTP/1.1 check of lib.sh does not apply to HAProxy's
    # h2-only listener).
    for _ in $(seq 1 100); do
      h2load -n1 -c1 -H ':authority: bench.local' "http://127.0.0.1:$port/" 2>/dev/null \
        | grep -q '^status codes: 1 2xx' && break
      sleep 0.1
    done
    before=$(cpu_ticks "$pid")
    out=$(taskset -c 0 h2load -c"$CONNS" -m"$STREAMS" -D"$DURATION" \
      -H ':authority: bench.local' "http://127.0.0.1:$port/")
    after=$(cpu_ticks "$pid")
    rss=$(rss_kib "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "$out" | h2load_row "$proxy" "$before" "$after" "$rss" >> "$results"
  done
done

note="h2c, $ROUNDS rounds of $DURATION s, $CONNS connections x $STREAMS streams, proxy on CPU 1: medians (min–max)"
report h2 "$results" "$note" h2c
