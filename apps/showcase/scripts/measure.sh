#!/usr/bin/env bash
# The measurements behind docs/showcase.md and docs/worker-pool.md ("Sizing in the showcase").
#
#   cargo build --release -p showcase
#   apps/showcase/scripts/measure.sh db      # SQLite on the loop vs through the DB pool
#   apps/showcase/scripts/measure.sh sizing  # fib(32) with 2 workers: inline / thread pools of 1, 2, 4 / process
#   apps/showcase/scripts/measure.sh db-threads  # POST /items with 2 workers: DB pool of 1 vs 2 threads
#
# Each case starts a fresh server, runs the main load with wrk and, at the same time, a
# one-connection wrk on GET /healthz: how long a trivial request waits on the same server is
# what the seed's rule is about. Needs wrk. Prints one line per case.
set -euo pipefail
cd "$(dirname "$0")/../../.."
BIN=target/release/showcase
DUR=${DUR:-10}
SCRIPTS=apps/showcase/scripts
[ -x "$BIN" ] || { echo "build first: cargo build --release -p showcase" >&2; exit 1; }

start_server() { # args... -> sets PID, PORT, OUT
  OUT=$(mktemp)
  "$BIN" --port 0 --no-access-log --log-level warning "$@" >"$OUT" &
  PID=$!
  for _ in $(seq 100); do
    PORT=$(sed -n 's/^waitless: listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$OUT")
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  echo "server did not start" >&2; exit 1
}

stop_server() { kill -TERM "$PID"; wait "$PID" || true; rm -f "$OUT"; }

# case NAME SERVER_ARGS -- WRK_ARGS (main load; the URL path is last)
run_case() {
  local name=$1; shift
  local server_args=() wrk_args=()
  while [ "$1" != "--" ]; do server_args+=("$1"); shift; done; shift
  wrk_args=("$@")
  start_server "${server_args[@]}"
  local base=http://127.0.0.1:$PORT
  local n=${#wrk_args[@]}
  local path=${wrk_args[$((n-1))]}
  unset 'wrk_args[$((n-1))]'
  # warm up (pools, page cache), then measure
  curl -s -o /dev/null "$base$path" || true
  wrk -t1 -d"${DUR}s" --latency "${wrk_args[@]}" "$base$path" >/tmp/showcase-main.txt &
  local main=$!
  wrk -t1 -c1 -d"${DUR}s" --latency "$base/healthz" >/tmp/showcase-probe.txt
  wait $main
  stop_server
  local rps p50 p99 hrps h50 h99 max
  rps=$(awk '/Requests\/sec/ {print $2}' /tmp/showcase-main.txt)
  p50=$(awk '$1=="50%" {print $2}' /tmp/showcase-main.txt)
  p99=$(awk '$1=="99%" {print $2}' /tmp/showcase-main.txt)
  hrps=$(awk '/Requests\/sec/ {print $2}' /tmp/showcase-probe.txt)
  h50=$(awk '$1=="50%" {print $2}' /tmp/showcase-probe.txt)
  h99=$(awk '$1=="99%" {print $2}' /tmp/showcase-probe.txt)
  max=$(awk '/Latency/ {print $4; exit}' /tmp/showcase-probe.txt)
  printf '%-34s main: %9s req/s p50 %8s p99 %8s | /healthz: %8s req/s p50 %8s p99 %8s max %8s\n' \
    "$name" "$rps" "$p50" "$p99" "$hrps" "$h50" "$h99" "$max"
}

case "${1:-}" in
  db)
    for round in 1 2; do
      echo "# round $round: POST /items, 1 worker, wrk -c16"
      run_case "pool (default)" --workers 1 -- -c16 -s $SCRIPTS/post_item.lua /items
      run_case "on the loop (--db-on-loop)" --workers 1 --db-on-loop -- -c16 -s $SCRIPTS/post_item.lua /items
      echo "# round $round: GET /items?limit=10, 1 worker, wrk -c16"
      run_case "pool (default)" --workers 1 -- -c16 "/items?limit=10"
      run_case "on the loop (--db-on-loop)" --workers 1 --db-on-loop -- -c16 "/items?limit=10"
    done
    ;;
  sizing)
    for round in 1 2; do
      echo "# round $round: GET /cpu/fib/32, 2 workers, wrk -c4"
      run_case "inline" --workers 2 -- -c4 "/cpu/fib/32?mode=inline"
      run_case "thread, 1/worker (default)" --workers 2 -- -c4 "/cpu/fib/32?mode=thread"
      run_case "thread, 2/worker" --workers 2 --cpu-threads 2 -- -c4 "/cpu/fib/32?mode=thread"
      run_case "thread, 4/worker" --workers 2 --cpu-threads 4 -- -c4 "/cpu/fib/32?mode=thread"
      run_case "process, 1/worker (default)" --workers 2 -- -c4 "/cpu/fib/32?mode=process"
    done
    ;;
  db-threads)
    for round in 1 2; do
      echo "# round $round: POST /items, 2 workers, wrk -c16"
      run_case "db pool 1/worker" --workers 2 --db-threads 1 -- -c16 -s $SCRIPTS/post_item.lua /items
      run_case "db pool 2/worker (default)" --workers 2 -- -c16 -s $SCRIPTS/post_item.lua /items
    done
    ;;
  *) echo "usage: $0 db|sizing|db-threads" >&2; exit 2 ;;
esac
