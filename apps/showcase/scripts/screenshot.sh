#!/bin/sh
# Saves docs/showcase.png: the index page after its demos ran, taken by the browser test in
# headless Chromium (apt-get install chromium, or set CHROMIUM=/path/to/chrome).
#   apps/showcase/scripts/screenshot.sh
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
WAITLESS_SCREENSHOT="$root/docs/showcase.png" WAITLESS_REQUIRE_COMPONENTS=1 \
    cargo test -p showcase --test browser -- --nocapture
echo "wrote docs/showcase.png"
