#!/usr/bin/env bash
# Refreshes api/static/vendor/ from the npm registry: the built files of the dashboard's front-end packages.
# Pinned versions: change them here, run this script, look at the dashboard, commit api/static/vendor/.
# Running the dashboard needs none of this: the built files are committed.
set -euo pipefail
cd "$(dirname "$0")"

ALPINE=3.17.5
CHARTJS=4.6.1
PICO=2.1.1
LIVEKIT_CLIENT=2.23.0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
npm install --silent --no-audit --no-fund --prefix "$work" \
    "alpinejs@$ALPINE" "chart.js@$CHARTJS" "@picocss/pico@$PICO" "livekit-client@$LIVEKIT_CLIENT"

modules="$work/node_modules"
rm -rf vendor/alpinejs vendor/chart.js vendor/pico vendor/livekit-client
mkdir -p vendor/alpinejs vendor/chart.js vendor/pico vendor/livekit-client
# The alpinejs package ships no licence file (MIT, see vendor/README.md).
cp "$modules/alpinejs/dist/cdn.min.js" vendor/alpinejs/
cp "$modules/chart.js/dist/chart.umd.min.js" "$modules/chart.js/LICENSE.md" vendor/chart.js/
cp "$modules/@picocss/pico/css/pico.min.css" "$modules/@picocss/pico/LICENSE.md" vendor/pico/
# The browser SDK of the agent page's web call (global ``LivekitClient``).
cp "$modules/livekit-client/dist/livekit-client.umd.js" "$modules/livekit-client/LICENSE" vendor/livekit-client/
echo "vendored alpinejs@$ALPINE chart.js@$CHARTJS @picocss/pico@$PICO livekit-client@$LIVEKIT_CLIENT into $(pwd)/vendor"
