#!/bin/sh
# Refresh the third-party browser assets certprep ships, from the npm registry.
#
#   scripts/vendor-assets.sh            fetch the versions pinned below
#   SWAGGER_UI_VERSION=5.x.y scripts/vendor-assets.sh
#
# Writes app/web/static/vendor/swagger_ui/ (served at /api/docs),
# app/web/static/vendor/xterm/ (the lab console's terminal) and
# tests/e2e/vendor/axe-core/ (injected by the browser tests only), and records the
# versions and checksums in app/web/static/vendor/VERSIONS. Needs `npm` and `tar`.
set -eu

SWAGGER_UI_VERSION="${SWAGGER_UI_VERSION:-5.36.0}"
AXE_CORE_VERSION="${AXE_CORE_VERSION:-4.14.1}"
XTERM_VERSION="${XTERM_VERSION:-6.0.0}"
XTERM_FIT_VERSION="${XTERM_FIT_VERSION:-0.11.0}"

root="$(cd "$(dirname "$0")/.." && pwd)"
vendor="$root/app/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch PACKAGE VERSION -> unpacked folder in $work/PACKAGE
    (cd "$work" && npm pack --silent "$1@$2" >/dev/null)
    mkdir -p "$work/$1"
    # npm names a scoped package's tarball @scope/name -> scope-name-VERSION.tgz.
    tarball="$(echo "$1" | sed 's/^@//; s#/#-#')-$2.tgz"
    tar -xzf "$work/$tarball" -C "$work/$1" --strip-components=1
}

fetch swagger-ui-dist "$SWAGGER_UI_VERSION"
rm -rf "$vendor/swagger_ui"
mkdir -p "$vendor/swagger_ui"
# Only what flask-smorest's Swagger UI page loads, plus the licence.
for file in swagger-ui.css swagger-ui-bundle.js swagger-ui-standalone-preset.js \
    favicon-32x32.png favicon-16x16.png LICENSE NOTICE; do
    if [ -f "$work/swagger-ui-dist/$file" ]; then
        cp "$work/swagger-ui-dist/$file" "$vendor/swagger_ui/"
    fi
done
# The bundles end with a sourceMappingURL to .map files we do not ship.
for file in "$vendor"/swagger_ui/*.js "$vendor"/swagger_ui/*.css; do
    sed -i '/sourceMappingURL=/d' "$file"
done

fetch @xterm/xterm "$XTERM_VERSION"
fetch @xterm/addon-fit "$XTERM_FIT_VERSION"
rm -rf "$vendor/xterm"
mkdir -p "$vendor/xterm"
cp "$work/@xterm/xterm/lib/xterm.js" "$work/@xterm/xterm/css/xterm.css" "$vendor/xterm/"
cp "$work/@xterm/xterm/LICENSE" "$vendor/xterm/LICENSE"
cp "$work/@xterm/addon-fit/lib/addon-fit.js" "$vendor/xterm/"
for file in "$vendor"/xterm/*.js; do
    sed -i '/sourceMappingURL=/d' "$file"
done

fetch axe-core "$AXE_CORE_VERSION"
axe="$root/tests/e2e/vendor/axe-core"
rm -rf "$axe"
mkdir -p "$axe"
cp "$work/axe-core/axe.min.js" "$work/axe-core/LICENSE" "$axe/"

{
    echo "# Vendored browser assets: package, version, source, sha256 of the shipped files."
    echo "# Refresh with scripts/vendor-assets.sh (versions pinned at its top)."
    echo "swagger-ui-dist $SWAGGER_UI_VERSION https://registry.npmjs.org/swagger-ui-dist (Apache-2.0)"
    (cd "$vendor" && sha256sum swagger_ui/* | sed 's/^/  /')
    echo "@xterm/xterm $XTERM_VERSION https://registry.npmjs.org/@xterm/xterm (MIT)"
    echo "@xterm/addon-fit $XTERM_FIT_VERSION https://registry.npmjs.org/@xterm/addon-fit (MIT)"
    (cd "$vendor" && sha256sum xterm/* | sed 's/^/  /')
    echo "axe-core $AXE_CORE_VERSION https://registry.npmjs.org/axe-core (MPL-2.0, tests only)"
    (cd "$root/tests/e2e/vendor" && sha256sum axe-core/* | sed 's/^/  /')
} >"$vendor/VERSIONS"
echo "vendored swagger-ui-dist $SWAGGER_UI_VERSION, @xterm/xterm $XTERM_VERSION," \
    "@xterm/addon-fit $XTERM_FIT_VERSION and axe-core $AXE_CORE_VERSION"
