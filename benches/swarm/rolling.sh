#!/usr/bin/env bash
# A rolling update (`docker service update --force`, 2 replicas, stop-first, one task at a time)
# under a steady request stream, through wharf and the real Traefik 3.7.15 at once: the failed
# requests each proxy let through. Both run with the Swarm provider and Traefik's defaults
# (refreshSeconds 15), inside the network namespace of a container on the service's overlay
# network (the host cannot reach overlay addresses). The echo backend ignores SIGTERM, so a
# stopping task keeps answering until Swarm kills it after its grace period (5 s), as many
# applications do; connections it refuses after that count as failures.
#   bash benches/swarm/rolling.sh [updates (default 3)]
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/lib.sh
source scripts/deps.sh
find_traefik
updates=${1:-3}

cargo build --release -q -p wharf
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -q -p wharf-testkit --bin wharf-echo \
  --target x86_64-unknown-linux-gnu --target-dir target/static
work=$(mktemp -d)
mkdir -p "$work/img/bin"
cp target/static/x86_64-unknown-linux-gnu/release/wharf-echo "$work/img/wharf-echo"
cp "$work/img/wharf-echo" "$work/img/bin/sh"
tar -C "$work/img" -cf "$work/echo.tar" wharf-echo bin
docker import --change 'ENTRYPOINT ["/wharf-echo"]' "$work/echo.tar" wharf-bench-echo:dev >/dev/null

[ "$(docker info -f '{{.Swarm.LocalNodeState}}')" = active ] || docker swarm init --advertise-addr 127.0.0.1 >/dev/null
net=wharf-bench-rolling-$$
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  docker service rm "$net-web" >/dev/null 2>&1 || true
  docker rm -f "$net-ns" >/dev/null 2>&1 || true
  sleep 1
  docker network rm "$net" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
docker network create -d overlay --attachable "$net" >/dev/null
docker run -d -q --name "$net-ns" --network "$net" wharf-bench-echo:dev >/dev/null
pid=$(docker inspect -f '{{.State.Pid}}' "$net-ns")
ip=$(nsenter --net=/proc/$pid/ns/net ip -4 -o addr show eth1 | awk '{print $4}' | cut -d/ -f1)
docker service create -q -d --name "$net-web" --network "$net" --replicas 2 \
  --stop-grace-period 5s --update-monitor 1s \
  --label wharfbench=rolling --label traefik.http.routers.web.rule='Host(`web.test`)' \
  --label traefik.http.services.web.loadbalancer.server.port=80 wharf-bench-echo:dev >/dev/null

args=(--entryPoints.traefik.address=:9001 --api.insecure=true --providers.swarm=true
      '--providers.swarm.constraints=Label(`wharfbench`, `rolling`)'
      --global.checkNewVersion=false --global.sendAnonymousUsage=false --log.level=ERROR)
nsenter --net=/proc/$pid/ns/net target/release/wharf --entryPoints.web.address=:9000 "${args[@]}" >"$work/wharf.log" 2>&1 &
nsenter --net=/proc/$pid/ns/net "$TRAEFIK" --entryPoints.web.address=:9100 \
  "${args[@]/9001/9101}" >"$work/traefik.log" 2>&1 &
for port in 9000 9100; do
  up=""
  for _ in $(seq 1 300); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: web.test' "http://$ip:$port/")" = 200 ]; then up=1; break; fi
    sleep 0.1
  done
  [ -n "$up" ] || { echo "no route on port $port"; tail -5 "$work"/*.log; exit 1; }
done

# One client per proxy, a new connection per request (as a browser's first visit).
cat > "$work/stream.py" <<'PY'
import http.client, sys, time
addr, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
import os
ok = failed = 0
while not os.path.exists(stop):
    try:
        c = http.client.HTTPConnection(addr, port, timeout=5)
        c.request("GET", "/", headers={"Host": "web.test"})
        r = c.getresponse(); r.read(); c.close()
        if r.status == 200: ok += 1
        else: failed += 1
    except Exception:
        failed += 1
print(ok, failed)
PY
python3 "$work/stream.py" "$ip" 9000 "$work/stop" >"$work/wharf.out" &
python3 "$work/stream.py" "$ip" 9100 "$work/stop" >"$work/traefik.out" &
start=$(date +%s)
for _ in $(seq 1 "$updates"); do docker service update -q --force "$net-web" >/dev/null 2>&1; done
touch "$work/stop"
wait $(jobs -p | tail -2) 2>/dev/null || true
sleep 1
secs=$(( $(date +%s) - start ))
printf '| proxy | requests | failed | failed %% |\n|---|---|---|---|\n'
for p in wharf traefik; do
  read -r ok failed < "$work/$p.out"
  python3 -c "import sys; ok,f=int(sys.argv[2]),int(sys.argv[3]); print(f'| {sys.argv[1]} | {ok+f} | {f} | {100*f/max(ok+f,1):.2f} |')" "$p" "$ok" "$failed"
done
echo "($updates rolling updates of 2 tasks in ${secs} s)"
