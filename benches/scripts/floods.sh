#!/usr/bin/env bash
# Builds the showcase and the reliability benches (release) and runs `floods` against the showcase;
# every argument goes to the binary (see the top of benches/src/bin/floods.rs, and
# docs/reliability.md for the figures it produced).
#
#   benches/scripts/floods.sh [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-target}
cargo build --release -j2 -p showcase -p waitless-benches --bin showcase --bin floods
# As many descriptors as this shell may have (the hard limit): the floods open ~20,000 sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$target/release/floods" "$@"
