#!/usr/bin/env bash
# Waits until every container of a Compose project is healthy (or running, if it has no health
# check), then prints how long that took; fails after ${WAIT_SECONDS:-180} s with the states.
set -euo pipefail
project=${1:?usage: compose-wait.sh PROJECT}
deadline=$((SECONDS + ${WAIT_SECONDS:-180}))
start=$SECONDS
while :; do
  states=$(docker ps -a --filter "label=com.docker.compose.project=$project" \
    --format '{{.Label "com.docker.compose.service"}} {{.State}} {{.Status}}')
  waiting=$(printf '%s\n' "$states" | grep -v -E ' running .*\(healthy\)$' \
    | grep -v -E ' running [^(]*$' || true)
  if [ -n "$states" ] && [ -z "$waiting" ]; then
    echo "all $(printf '%s\n' "$states" | wc -l) containers of $project are up and healthy after $((SECONDS - start)) s"
    exit 0
  fi
  if [ $SECONDS -ge $deadline ]; then
    echo "still waiting after ${WAIT_SECONDS:-180} s for:" >&2
    printf '%s\n' "$waiting" >&2
    exit 1
  fi
  sleep 1
done
