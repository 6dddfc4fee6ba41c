#!/usr/bin/env bash
# Runs wharf on the shipped demo config (or on the flags given), installing the build tools a
# fresh machine lacks first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
if [ $# -eq 0 ]; then
  set -- --configFile=config/traefik.yml
fi
exec cargo run --release --locked -p wharf -- "$@"
