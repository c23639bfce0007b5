#!/usr/bin/env bash
# The long fuzz runs of docs/reliability.md (## Fuzzing): every target, or those named, for
# SECONDS of wall-clock time each, JOBS at a time, at nice 19, then one summary line per target.
#
#   fuzz/long-run.sh [-t SECONDS] [-j JOBS] [-w WORKDIR] [target...]
#
# Defaults: 3600 s (the hour per target the reliability issue asks for), 2 jobs (one per core of
# the 2-core benchmark machine), WORKDIR /tmp/waitless-fuzz. New inputs go to WORKDIR/<target>
# (the committed seed corpus fuzz/corpus/<target> is read, never written), crash inputs to
# WORKDIR/artifacts/, each run's libFuzzer log to WORKDIR/logs/<target>.log. Running it again with
# the same WORKDIR goes on from the corpus the last run grew. Exit status 1 if any run failed.
#
# The summary says, per target: the run's exit status (0 = no crash, hang, leak or allocation over
# -rss_limit_mb), wall and CPU seconds (the CPU share tells how much of the hour the target really
# got on a shared machine), libFuzzer's executions and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=3600
jobs=2
work=/tmp/waitless-fuzz
while getopts "t:j:w:" opt; do
    case "$opt" in
    t) seconds=$OPTARG ;;
    j) jobs=$OPTARG ;;
    w) work=$OPTARG ;;
    *) echo "usage: $0 [-t seconds] [-j jobs] [-w workdir] [target...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

# The longest input each target is given: at least what its parser needs to reach every state
# (a whole head under the 16 KiB limit is not needed to find a framing bug; a WebSocket session
# needs room for several frames), small enough to keep executions per second high.
max_len() {
    case "$1" in
    ws_frame) echo 256 ;;
    ws_utf8) echo 1024 ;;
    ws_session) echo 16384 ;;
    framework_extract | pool_frame) echo 8192 ;;
    *) echo 4096 ;;
    esac
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
target_dir=${CARGO_TARGET_DIR:-target}/fuzz
cargo +nightly fuzz build --target-dir "$target_dir"
bin_dir=$target_dir/x86_64-unknown-linux-gnu/release
mkdir -p "$work/logs" "$work/artifacts"

run_one() {
    local t=$1 log=$work/logs/$1.log rc=0
    mkdir -p "$work/$t"
    /usr/bin/time -f "%e %U %S" -o "$log.time" nice -n 19 "$bin_dir/$t" \
        -rss_limit_mb=2048 -timeout=10 -max_len="$(max_len "$t")" -max_total_time="$seconds" \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" \
        "$work/$t" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
    echo "$rc" >"$log.rc"
}

echo "fuzz/long-run.sh: ${#targets[@]} targets, ${seconds} s each, $jobs at a time, logs in $work/logs" >&2
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true
    done
    echo "$(date -u +%H:%M:%S) start $t" >&2
    run_one "$t" &
done
wait

failed=0
printf '%-18s %4s %8s %8s %14s %8s\n' target rc wall_s cpu_s executions rss_mb
for t in "${targets[@]}"; do
    log=$work/logs/$t.log
    rc=$(cat "$log.rc" 2>/dev/null || echo '?')
    read -r wall user sys < <(tail -n 1 "$log.time" 2>/dev/null || echo "? 0 0")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", u + s }')
    printf '%-18s %4s %8s %8s %14s %8s\n' "$t" "$rc" "$wall" "$cpu" "${execs:-?}" "${rss:-?}"
    [ "$rc" = 0 ] || failed=1
done
exit "$failed"
