#!/usr/bin/env bash
# TLS on one core: wharf, Traefik 3.7.15 and nginx terminating TLS (RSA 2048 certificate) for
# the same route to the same backend. The proxy is pinned to CPU 1; the clients and the backend
# (nginx returning 6 bytes) share CPU 0. Four measures:
#   - full handshakes/s: 4 clients at a time (benches/src/bin/tls_handshakes.rs, rustls, no
#     resumption), each connection a full TLS 1.3 handshake (ECDHE and the RSA signature) and
#     one request, with the proxy's CPU per handshake;
#   - handshakes/s under wrk with `Connection: close`, 16 connections at a time: wrk clears and
#     reuses its OpenSSL connection objects, so these are TLS 1.3 resumptions (with ECDHE, no
#     signature);
#   - full and resumed TLS 1.3 connections/s (handshake and one request), one at a time:
#     benches/src/bin/tls_handshakes.rs (rustls, keeping the server's tickets); and TLS 1.2
#     full and resumed handshakes with `openssl s_time
#     -new/-reuse` (s_time cannot resume TLS 1.3; it sends no SNI, so the default certificate,
#     also RSA 2048, is served);
#   - requests/s over TLS 1.3 with keep-alive: wrk, 64 connections;
#   - requests/s over HTTP/2 on TLS (h2 by ALPN): h2load, 16 connections x 8 streams (the
#     h2c bench's shape, benches/h2/run.sh), its own table.
# Each with the proxy's CPU µs per handshake or request.
#
#   bash benches/tls/run.sh [seconds-per-run=10] [rounds=3]
#   WHARF_BASE_BIN=/tmp/wharf-before bash benches/tls/run.sh   # adds that build as `wharf-base`,
#                                                              # for a before/after in one run
#
# Compare numbers from the same run only (a shared 2-core machine varies by up to ±25 %).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
ROUNDS=${2:-3}

source benches/lib.sh
need_tools nginx:nginx-light wrk:wrk openssl:openssl h2load:nghttp2-client
find_traefik
if [ -z "${WHARF_BIN:-}" ]; then cargo build --release -q -p wharf; fi
cargo build --release -q -p wharf-benches --bin tls_handshakes
HANDSHAKES=$PWD/target/release/tls_handshakes
WHARF=${WHARF_BIN:-$PWD/target/release/wharf}

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
chmod 755 "$work"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 30 -subj "/CN=bench.local" -addext "subjectAltName=DNS:bench.local" 2>/dev/null
chmod 644 "$work/key.pem" "$work/cert.pem"  # nginx's worker is not root

BACKEND=127.0.0.1:19280
cat > "$work/backend.conf" <<NGX
daemon off; worker_processes 1; pid $work/backend.pid; error_log $work/backend.err;
events { worker_connections 4096; }
http { access_log off; server { listen $BACKEND; keepalive_requests 1000000;
  location / { return 200 "hello\n"; } } }
NGX
taskset -c 0 nginx -c "$work/backend.conf" & pids+=($!)

cat > "$work/dyn.yml" <<YML
http:
  routers:
    bench: {rule: "Host(\`bench.local\`)", service: backend, tls: {}}
  services:
    backend: {loadBalancer: {servers: [{url: "http://$BACKEND"}]}}
tls:
  certificates:
    - {certFile: $work/cert.pem, keyFile: $work/key.pem}
YML
cat > "$work/proxy-nginx.conf" <<NGX
daemon off; worker_processes 1; pid $work/proxy.pid; error_log $work/proxy.err;
events { worker_connections 4096; }
http { access_log off;
  upstream backend { server $BACKEND; keepalive 128; }
  server { listen 127.0.0.1:19283 ssl http2; server_name bench.local;
    ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:10m; ssl_session_tickets on;
    keepalive_requests 1000000;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NGX

# Replaces lib.sh's plain-HTTP start_proxy.
start_proxy() { # name -> pid, port
  case $1 in
    wharf) taskset -c 1 "$WHARF" --entryPoints.websecure.address=127.0.0.1:19281 \
             --providers.file.filename="$work/dyn.yml" --log.level=ERROR >"$work/wharf.log" 2>&1 &
           echo "$! 19281" ;;
    traefik) taskset -c 1 "$TRAEFIK" --entryPoints.websecure.address=127.0.0.1:19282 \
             --providers.file.filename="$work/dyn.yml" --log.level=ERROR \
             --global.checkNewVersion=false --global.sendAnonymousUsage=false >"$work/traefik.log" 2>&1 &
           echo "$! 19282" ;;
    nginx) taskset -c 1 nginx -c "$work/proxy-nginx.conf" & echo "$! 19283" ;;
    wharf-base) taskset -c 1 "$WHARF_BASE_BIN" --entryPoints.websecure.address=127.0.0.1:19284 \
             --providers.file.filename="$work/dyn.yml" --log.level=ERROR >"$work/wharf-base.log" 2>&1 &
           echo "$! 19284" ;;
  esac
}

results="$work/results.tsv"
h2_results="$work/h2tls.tsv"
wrk_rate() { # output -> requests/s and count
  python3 -c '
import re, sys
out = sys.stdin.read()
print(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1), re.search(r"(\d+) requests in", out).group(1))'
}
for round in $(seq 1 "$ROUNDS"); do
  for proxy in wharf ${WHARF_BASE_BIN:+wharf-base} traefik nginx; do
    read -r pid port < <(start_proxy "$proxy")
    pids+=("$pid")
    for _ in $(seq 1 100); do
      code=$(curl -sk -o /dev/null -w '%{http_code}' --resolve "bench.local:$port:127.0.0.1" "https://bench.local:$port/" || true)
      [ "$code" = 200 ] && break
      sleep 0.1
    done
    [ "$code" = 200 ] || { echo "$proxy never answered 200 over TLS"; cat "$work"/*.err "$work/$proxy.log" 2>/dev/null | tail -20; exit 1; }
    url="https://bench.local:$port/"
    # wrk connects to the URL's host: bench.local must resolve to loopback.
    grep -q "bench.local" /etc/hosts || echo "127.0.0.1 bench.local" >> /etc/hosts

    before=$(cpu_ticks "$pid")
    read -r full_rps full_n _ < <(taskset -c 0 "$HANDSHAKES" "127.0.0.1:$port" "$DURATION" full bench.local 4)
    after=$(cpu_ticks "$pid")
    full_cpu=$(python3 -c "print(($after-$before)*10000/max($full_n,1))")

    before=$(cpu_ticks "$pid")
    read -r wrk_rps wrk_n < <(taskset -c 0 wrk -t1 -c16 -d"${DURATION}s" -H 'Connection: close' "$url" | wrk_rate)
    after=$(cpu_ticks "$pid")
    wrk_cpu=$(python3 -c "print(($after-$before)*10000/max($wrk_n,1))")

    # Handshakes per wall-clock second ("N connections in T real seconds").
    s_time() { taskset -c 0 openssl s_time -connect "127.0.0.1:$port" "$1" "$2" -time "$DURATION" 2>/dev/null \
      | python3 -c 'import re,sys; m=re.search(r"(\d+) connections in (\d+) real seconds", sys.stdin.read()); print(int(m.group(1))/max(int(m.group(2)),1) if m else 0)' || echo 0; }
    full13=$(taskset -c 0 "$HANDSHAKES" "127.0.0.1:$port" "$DURATION" full | awk '{print $1}')
    resumed13=$(taskset -c 0 "$HANDSHAKES" "127.0.0.1:$port" "$DURATION" resumed | awk '{print $1}')
    new12=$(s_time -new -tls1_2)
    reuse=$(s_time -reuse -tls1_2)

    before=$(cpu_ticks "$pid")
    read -r ka_rps ka_n < <(taskset -c 0 wrk -t1 -c64 -d"${DURATION}s" "$url" | wrk_rate)
    after=$(cpu_ticks "$pid")
    ka_cpu=$(python3 -c "print(($after-$before)*10000/max($ka_n,1))")

    before=$(cpu_ticks "$pid")
    h2_out=$(taskset -c 0 h2load -c16 -m8 -D"$DURATION" "$url")
    after=$(cpu_ticks "$pid")
    echo "$h2_out" | h2load_row "$proxy" "$before" "$after" "$(rss_kib "$pid")" >> "$h2_results"

    kill "$pid"; wait "$pid" 2>/dev/null || true
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$proxy" "$full_rps" "$full_cpu" "$wrk_rps" "$wrk_cpu" "${full13:-0}" "${resumed13:-0}" "${new12:-0}" "${reuse:-0}" "$ka_rps" "$ka_cpu" >> "$results"
  done
done

note="$ROUNDS rounds of $DURATION s per measure, proxy on CPU 1: medians (min–max)"
report tls "$results" "$note" tls
echo
report h2 "$h2_results" "h2 on TLS 1.3, $ROUNDS rounds of $DURATION s, 16 connections x 8 streams, proxy on CPU 1: medians (min–max)" h2tls
