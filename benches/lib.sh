# Shared by the load scripts (sourced): CPU time and memory of a proxy and its children
# (nginx works in its worker process).
family() { echo "$1" $(pgrep -P "$1" || true); }
cpu_ticks() { for p in $(family "$1"); do awk '{print $14+$15}' "/proc/$p/stat"; done | awk '{s+=$1} END {print s}'; }
rss_kib() { for p in $(family "$1"); do awk '/VmRSS/ {print $2}' "/proc/$p/status"; done | awk '{s+=$1} END {print s}'; }
