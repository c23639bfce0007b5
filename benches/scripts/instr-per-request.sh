#!/usr/bin/env bash
# Instructions per request of a `hello` build on the pipelined path, counted by callgrind: the
# count is the same from run to run whatever else the machine is doing, so two builds can be
# compared on a busy machine (wall-clock A/B needs a quiet one: `ab.sh`).
#
#   benches/scripts/instr-per-request.sh BIN [BIN ...]
#   INSTR_PATH=/json benches/scripts/instr-per-request.sh BIN    # another route (default /plaintext)
#   INSTR_KEEP=DIR ...                                          # keep the callgrind files, for
#                                                               # callgrind_annotate --diff
#
# BIN is started as `BIN --port P --workers 1 --no-access-log --log-level warning`; the peers in
# benches/peers read only `--port`, so may-minihttp and hyper are measured the same way.
# One connection sends batches of 16 pipelined `GET /plaintext` and waits for the 16 responses;
# the server runs under `valgrind --tool=callgrind`. Two runs (1,000 and 5,000 batches) are
# subtracted, so start-up and shutdown cancel out: what is left is the cost of 64,000 requests.
set -euo pipefail
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
client=$(mktemp --suffix .py)
out=${INSTR_KEEP:-$(mktemp -d)}
mkdir -p "$out"
trap 'rm -f "$client"; [ -n "${INSTR_KEEP:-}" ] || rm -rf "$out"' EXIT
cat >"$client" <<'PY'
import socket, sys, time
port, batches, depth = int(sys.argv[1]), int(sys.argv[2]), 16
path = sys.argv[3].encode()
for _ in range(600):
    try:
        s = socket.create_connection(("127.0.0.1", port)); break
    except OSError:
        time.sleep(0.1)
req = (b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\n"
       b"Accept: text/plain,text/html;q=0.9\r\nConnection: keep-alive\r\n\r\n") * depth
for _ in range(batches):
    s.sendall(req); buf = b""
    while buf.count(b"HTTP/1.1 200") < depth:
        d = s.recv(65536)
        if not d: sys.exit("connection closed")
        buf += d
PY
total() { # BIN BATCHES PORT -> total instructions of the run
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.$3.out" "$1" --port "$3" --workers 1 \
        --no-access-log --log-level warning >/dev/null 2>&1 &
    local pid=$!
    python3 "$client" "$3" "$2" "${INSTR_PATH:-/plaintext}"
    # SIGINT lets hello flush callgrind's counts; may-minihttp ignores it under valgrind, so
    # SIGTERM follows after 5 s (both end the run the same way for the count).
    kill -INT $pid
    for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    kill -TERM $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    callgrind_annotate "$out/cg.$3.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}
port=$((20000 + RANDOM % 20000))
for bin in "$@"; do
    a=$(total "$bin" 1000 $port); b=$(total "$bin" 5000 $((port + 1))); port=$((port + 2))
    echo "$bin: $(( (b - a) / 64000 )) instructions per request"
done
