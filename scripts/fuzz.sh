#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (FUZZ_SECONDS each, default 30) and prints
# the executions per target. A crash fails the run; its input is left in fuzz/artifacts/ to be
# kept as a seed (fuzz/corpus/<target>/seed-regression-*) once fixed.
# cargo-fuzz needs nightly flags: RUSTC_BOOTSTRAP enables them on the machine's stable rustc.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-30}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
cargo fuzz build -O
summary=()
for target in $(cargo fuzz list); do
  corpus="corpus/$target"
  mkdir -p "$corpus"
  log=$(mktemp)
  # New inputs go to a scratch copy: the committed corpus keeps its seeds only.
  work=$(mktemp -d)
  cp -r "$corpus/." "$work/"
  if ! cargo fuzz run -O "$target" "$work" -- -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $target failed (input in fuzz/artifacts/$target/)"
    exit 1
  fi
  runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | awk '{print $2}' | tail -1)
  summary+=("$target: ${runs:-?} runs in ${seconds}s")
  rm -rf "$log" "$work"
done
printf '%s\n' "${summary[@]}"
