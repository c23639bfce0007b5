#!/usr/bin/env bash
# Fetches the API-docs pages' assets (Swagger UI, ReDoc) from their published npm packages at
# pinned versions, keeps only the files the framework serves (plus each LICENSE), and records
# versions and sha256 sums in framework/assets/VERSIONS.
#
# Why shipped and not linked from a CDN: /docs and /redoc must work with no internet, and the
# page must make no request outside the app. Run it only to change a version; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

SWAGGER_UI_VERSION=5.35.0
REDOC_VERSION=2.5.4

out=framework/assets
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fetch() { # package@version dest-dir files...
    local spec=$1 dest=$2
    shift 2
    (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
    local tgz
    tgz=$(ls "$tmp"/*.tgz)
    mkdir -p "$tmp/x" "$dest"
    tar -xzf "$tgz" -C "$tmp/x"
    for f in "$@"; do
        cp "$tmp/x/package/$f" "$dest/$(basename "$f")"
    done
    rm -rf "$tmp/x" "$tgz"
}

fetch "swagger-ui-dist@$SWAGGER_UI_VERSION" "$out/swagger-ui" \
    swagger-ui-bundle.js swagger-ui.css oauth2-redirect.js LICENSE
fetch "redoc@$REDOC_VERSION" "$out/redoc" bundles/redoc.standalone.js LICENSE
redoc_upstream_sha=$(sha256sum "$out/redoc/redoc.standalone.js" | cut -d' ' -f1)

# The one URL outside the app that ReDoc's bundle loads by itself: the footer's
# "API docs by Redocly" logo from its CDN. It becomes an empty data: image (ReDoc then hides the
# <img> on its load error; the link text stays). Nothing else is changed.
logo='https://cdn.redoc.ly/redoc/logo-mini.svg'
[ "$(grep -o "$logo" "$out/redoc/redoc.standalone.js" | wc -l)" = 1 ] || {
    echo "redoc $REDOC_VERSION: expected the logo URL exactly once; check the patch" >&2
    exit 1
}
sed -i "s#$logo#data:,#" "$out/redoc/redoc.standalone.js"

{
    echo "# Written by scripts/fetch-web-assets.sh; do not edit by hand."
    echo "swagger-ui-dist $SWAGGER_UI_VERSION"
    echo "redoc $REDOC_VERSION (bundles/redoc.standalone.js upstream sha256 $redoc_upstream_sha; footer logo URL replaced by data:,)"
    (cd "$out" && sha256sum swagger-ui/* redoc/*)
} >"$out/VERSIONS"
cat "$out/VERSIONS"
