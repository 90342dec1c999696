#!/usr/bin/env bash
# Refreshes api/static/vendor/ from the npm registry: the built files of the dashboard's front-end packages.
# Pinned versions: change them here, run this script, look at the dashboard, commit api/static/vendor/.
# Running the dashboard needs none of this: the built files are committed.
set -euo pipefail
cd "$(dirname "$0")"

ALPINE=3.17.5
CHARTJS=4.6.1
PICO=2.1.1

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
npm install --silent --no-audit --no-fund --prefix "$work" \
    "alpinejs@$ALPINE" "chart.js@$CHARTJS" "@picocss/pico@$PICO"

modules="$work/node_modules"
rm -rf vendor/alpinejs vendor/chart.js vendor/pico
mkdir -p vendor/alpinejs vendor/chart.js vendor/pico
# The alpinejs package ships no licence file (MIT, see vendor/README.md).
cp "$modules/alpinejs/dist/cdn.min.js" vendor/alpinejs/
cp "$modules/chart.js/dist/chart.umd.min.js" "$modules/chart.js/LICENSE.md" vendor/chart.js/
cp "$modules/@picocss/pico/css/pico.min.css" "$modules/@picocss/pico/LICENSE.md" vendor/pico/
echo "vendored alpinejs@$ALPINE chart.js@$CHARTJS @picocss/pico@$PICO into $(pwd)/vendor"
