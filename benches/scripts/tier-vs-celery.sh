#!/usr/bin/env bash
# The worker tier (waitless-pool, feature `redis`) against Celery on the same redis-server:
# round trip (one sequential submitter) and throughput (everything in flight, 2 workers), with an
# `add` and a `fib` task, alternated within each round; medians and ratios (benches/src/bin/tier.rs).
#
#   benches/scripts/tier-vs-celery.sh [ROUNDS] [JOBS]
#
# Needs redis-server (apt-get install redis-server). Installs Celery into a venv under /tmp the
# first time (the Celery side is skipped, with a message, if that fails).
set -euo pipefail
rounds=${1:-5} jobs=${2:-500}
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${CELERY_VENV:-/tmp/waitless-celery-venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import celery, redis, packaging' 2>/dev/null; then
    python3 -m venv "$venv" && "$venv/bin/pip" install -q celery redis packaging ||
        echo "tier-vs-celery: could not install celery into $venv" >&2
fi
cd "$root"
cargo build --release -p waitless-benches --bin tier
target=${CARGO_TARGET_DIR:-$root/target}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# celery $("$venv/bin/python" -c 'import celery; print(celery.__version__)' 2>/dev/null || echo missing)," \
     "$(redis-server --version | cut -d' ' -f3)"
C_FORCE_ROOT=1 "$target/release/tier" --rounds "$rounds" --jobs "$jobs" --python "$venv/bin/python"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
