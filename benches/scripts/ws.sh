#!/usr/bin/env bash
# WebSocket echo: waitless (`ws_echo`), tungstenite's codec on the waitless loop
# (`ws_echo_tungstenite`, named waitless-tungstenite), tokio-tungstenite (`peer-ws-tokio`),
# Python `websockets` (its own asyncio server on uvloop) and uvicorn (`--ws websockets`, an ASGI
# echo), in the same run. 256 connections, each sending one binary message and waiting for its echo
# (`ws_load`); server pinned to core 0, client to core 1, both at nice -20; the servers are
# alternated within each round. Prints every run (µs of server CPU per message from
# /proc/PID/stat, messages/s), then the medians and the ratio to tokio-tungstenite.
#
#   benches/scripts/ws.sh [ROUNDS] [SECONDS] [SIZE...]        # defaults: 5 5 64 16384
#
# Binaries: WS_ECHO, WS_ECHO_TUNGSTENITE, WS_LOAD (default: $CARGO_TARGET_DIR or target,
# /release/), PEER_WS_TOKIO (default: benches/peers/target/release/peer-ws-tokio). Build them first:
#   cargo build --release -p waitless-benches --bin ws_echo --bin ws_echo_tungstenite --bin ws_load
#   cargo build --release --manifest-path benches/peers/Cargo.toml -p peer-ws-tokio
# The Python peers use benches/.venv (created with benches/peers/python/requirements.txt when
# missing; skipped with a message when that fails; WS_VENV names another venv).
# ONLY="waitless waitless-tungstenite tokio" runs a subset (no venv is set up then);
# waitless-tungstenite-32k (only by ONLY) is the same with tungstenite's read buffer at 32 KiB;
# ONLY="waitless-old waitless tokio" WS_ECHO_OLD=path/to/older/ws_echo compares two builds.
set -euo pipefail
rounds=${1:-5} secs=${2:-5}
shift $(($# < 2 ? $# : 2))
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(64 16384)
here=$(cd "$(dirname "$0")/../.." && pwd)
rel=${CARGO_TARGET_DIR:-$here/target}/release
ws_echo=${WS_ECHO:-$rel/ws_echo}
ws_echo_tungstenite=${WS_ECHO_TUNGSTENITE:-$rel/ws_echo_tungstenite}
ws_load=${WS_LOAD:-$rel/ws_load}
tokio=${PEER_WS_TOKIO:-$here/benches/peers/target/release/peer-ws-tokio}
venv=${WS_VENV:-$here/benches/.venv}
port=$((19000 + RANDOM % 2000))
for b in "$ws_echo" "$ws_echo_tungstenite" "$ws_load" "$tokio"; do
  [ -x "$b" ] || { echo "missing $b (see the build commands at the top)"; exit 2; }
done

servers=(waitless waitless-tungstenite tokio)
if [ -n "${ONLY:-}" ]; then
  read -r -a servers <<<"$ONLY"
elif [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import websockets, uvicorn' 2>/dev/null; then
  python3 -m venv "$venv" && "$venv/bin/pip" install --quiet -r "$here/benches/peers/python/requirements.txt" || true
fi
if [ -z "${ONLY:-}" ]; then
  if "$venv/bin/python" -c 'import websockets, uvicorn' 2>/dev/null; then
    servers+=(websockets uvicorn)
  else
    echo "skipping the Python peers: no venv with websockets and uvicorn in $venv"
  fi
fi

start_server() { # name -> pid on stdout
  local cmd
  case $1 in
    waitless) cmd=("$ws_echo" $port) ;;
    waitless-old) cmd=("${WS_ECHO_OLD:?set WS_ECHO_OLD to an older ws_echo}" $port) ;;
    waitless-tungstenite) cmd=("$ws_echo_tungstenite" $port) ;;
    waitless-tungstenite-32k) cmd=("$ws_echo_tungstenite" $port 32768) ;;
    tokio) cmd=("$tokio" $port) ;;
    websockets) cmd=("$venv/bin/python" "$here/benches/peers/python/ws_echo.py" $port) ;;
    uvicorn) cmd=("$venv/bin/uvicorn" ws_echo:app --app-dir "$here/benches/peers/python"
      --host 127.0.0.1 --port $port --ws websockets --loop uvloop --no-access-log
      --log-level error) ;;
  esac
  taskset -c 0 nice -n -20 "${cmd[@]}" >/dev/null 2>&1 &
  echo $!
}

wait_port() {
  for _ in $(seq 200); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
echo "# $(date -u +%FT%TZ) rounds=$rounds seconds=$secs load: $(cut -d' ' -f1-3 /proc/loadavg)"
for size in "${sizes[@]}"; do
  for r in $(seq "$rounds"); do
    # Rotate the order each round, so no server always runs first or last.
    n=${#servers[@]}
    for i in $(seq 0 $((n - 1))); do
      name=${servers[$(((i + r) % n))]}
      # A fresh port per run: a server that is slow to let go of the last one (uvicorn) must
      # not make the next fail to bind.
      port=$((port + 1))
      pid=$(start_server "$name")
      if ! wait_port; then
        echo "$name did not start"; kill "$pid" 2>/dev/null || true; continue
      fi
      out=$(taskset -c 1 nice -n -20 "$ws_load" 127.0.0.1:$port / "$size" 256 "$secs" "$pid" || true)
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      us=$(sed -n 's/.*us\/msg=\([0-9.]*\).*/\1/p' <<<"$out")
      rate=$(sed -n 's/.*msg\/s=\([0-9]*\).*/\1/p' <<<"$out")
      errors=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$out")
      printf '%-6s %-24s round %d: %8s us/msg %8s msg/s errors=%s\n' "$size" "$name" "$r" "${us:-?}" "${rate:-?}" "${errors:-?}"
      [ -n "$us" ] && echo "$size $name $us $rate" >>"$results"
    done
  done
done
echo "# medians (load at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
awk '
  { us[$1 " " $2] = us[$1 " " $2] " " $3; rate[$1 " " $2] = rate[$1 " " $2] " " $4 }
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    for (k in us) { m[k] = median(us[k]); split(k, p, " "); if (p[2] == "tokio") base[p[1]] = m[k] }
    for (k in us) {
      split(k, p, " ")
      ratio = (p[1] in base) ? sprintf("%.2fx", m[k] / base[p[1]]) : "-"
      printf "%-6s %-24s median %7.2f us/msg  %7.0f msg/s  %s of tokio-tungstenite  (runs:%s)\n", p[1], p[2], m[k], median(rate[k]), ratio, us[k]
    }
  }' "$results" | sort -k1,1n -k4,4n
