#!/usr/bin/env bash
# pipelined-16 c256, three hello builds alternated (edit the paths below): µs of server CPU per request.
# Run from the repository root.
tck=$(getconf CLK_TCK); port=18097
run() { bin=$1
  taskset -c 0 nice -n -20 "$bin" --port $port --workers 1 --no-access-log --log-level warning >/dev/null 2>&1 & pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/plaintext" && break; sleep 0.05; done
  taskset -c 1 nice -n -20 wrk -t1 -c256 -d1s -s benches/pipeline.lua http://127.0.0.1:$port/plaintext -- 16 >/dev/null 2>&1
  t0=$(awk '{print $14+$15}' /proc/$pid/stat)
  out=$(taskset -c 1 nice -n -20 wrk -t1 -c256 -d4s -s benches/pipeline.lua http://127.0.0.1:$port/plaintext -- 16 2>&1)
  t1=$(awk '{print $14+$15}' /proc/$pid/stat); kill $pid; wait $pid 2>/dev/null
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -v t=$((t1-t0)) -v r=$reqs -v tck=$tck 'BEGIN{printf "%.3f", t*1e6/tck/r}'
}
for r in 1 2 3 4 5; do echo "round $r: old $(run /tmp/hello-old-dbc2df9) mix $(run /tmp/mix-target/release/hello) new $(run /tmp/hello-new2)"; done
