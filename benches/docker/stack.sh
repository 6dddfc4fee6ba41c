#!/usr/bin/env bash
# The design's Compose stack under load: time from `up` to all healthy, then wrk over TLS to the
# landing route (through secure-headers) while wharf runs in its tier (0.5 CPU, 512 MB), sampling
# wharf's memory (cgroup usage, as `docker stats` shows it) every 2 s.
#   bash benches/docker/stack.sh [seconds] [connections]     (REBUILD=1: rebuild the images first)
# Uses its own project name and ports; the stack is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-20}
connections=${2:-64}
project=wharfbench
export WHARF_HTTP_PORT=18000 WHARF_HTTPS_PORT=18443 WHARF_DASHBOARD_PORT=18080
export DOCKER_GID=$(stat -c %g /var/run/docker.sock)
command -v wrk >/dev/null || { sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq wrk >/dev/null; }
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose -p "$project")
else
  compose=(docker-compose --compatibility -f docker-compose.yml -f docker-compose.v1.yml -p "$project")
fi
# The images as `make images` built them; built here when missing (REBUILD=1 forces it).
if [ -n "${REBUILD:-}" ] || ! docker image inspect wharf:dev wharf-standin:dev >/dev/null 2>&1; then
  bash scripts/image.sh >/dev/null
fi
bash scripts/dev-files.sh >/dev/null
trap '"${compose[@]}" down --volumes --remove-orphans >/dev/null 2>&1' EXIT
start=$(date +%s.%N)
"${compose[@]}" up -d >/dev/null 2>&1
bash scripts/compose-wait.sh "$project" >/dev/null
echo "up to all healthy: $(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.1f') s"
wharf=$("${compose[@]}" ps -q wharf)
echo "idle: $(docker stats --no-stream --format '{{.MemUsage}}' "$wharf")"
wrk -t2 -c"$connections" -d"${seconds}s" -H "Host: motovaultpro.com" "https://127.0.0.1:$WHARF_HTTPS_PORT/" > /tmp/wharf-stack-wrk.txt &
load=$!
peak=0
while kill -0 "$load" 2>/dev/null; do
  mib=$(docker stats --no-stream --format '{{.MemUsage}}' "$wharf" | awk '{print $1}' | sed 's/MiB//')
  peak=$(echo "if ($mib > $peak) $mib else $peak" | bc)
  sleep 2
done
grep -E "Requests/sec|Latency" /tmp/wharf-stack-wrk.txt
echo "wharf memory under load (peak sample): ${peak} MiB of 512 MiB; CPU limit 0.5"
