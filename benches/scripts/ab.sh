#!/usr/bin/env bash
# A/B: two builds of one app, alternated, server pinned to core 0 and wrk to core 1; prints µs of
# server CPU per request (utime+stime from /proc over the measured run) and req/s per round.
#
#   benches/scripts/ab.sh OLD_BIN NEW_BIN [ROUNDS] [SECONDS]
#
# Cases: plaintext c256, json c256, plaintext pipelined-16 c256 (benches/pipeline.lua).
set -euo pipefail
old=$1 new=$2 rounds=${3:-3} secs=${4:-4}
here=$(cd "$(dirname "$0")/.." && pwd)
tck=$(getconf CLK_TCK)
port=18080
measure() { # bin path conns pipeline
  local bin=$1 path=$2 conns=$3 pipe=$4
  taskset -c 0 nice -n -20 "$bin" --port $port --workers 1 --no-access-log --log-level warning >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port$path" && break; sleep 0.05; done
  local args=(-t1 -c"$conns" -d1s "http://127.0.0.1:$port$path")
  [ "$pipe" -gt 1 ] && args+=(-s "$here/pipeline.lua" -- "$pipe")
  taskset -c 1 nice -n -20 wrk "${args[@]}" >/dev/null 2>&1 || true
  local t0; t0=$(awk '{print $14+$15}' /proc/$pid/stat)
  args[2]="-d${secs}s"
  local out; out=$(taskset -c 1 nice -n -20 wrk "${args[@]}" 2>&1)
  local t1; t1=$(awk '{print $14+$15}' /proc/$pid/stat)
  kill $pid; wait $pid 2>/dev/null || true
  local reqs; reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -v t=$((t1 - t0)) -v r="$reqs" -v tck="$tck" -v s="$secs" \
    'BEGIN { printf "%.2f us/req  %.0f req/s", t * 1e6 / tck / r, r / s }'
}
for case in "/plaintext 256 1" "/json 256 1" "/plaintext 256 16"; do
  set -- $case
  for r in $(seq "$rounds"); do
    o=$(measure "$old" "$1" "$2" "$3"); n=$(measure "$new" "$1" "$2" "$3")
    echo "$1 c$2 p$3 round $r: old $o | new $n"
  done
done
