#!/usr/bin/env bash
# Builds pkg/, starts a local y-websocket server on 127.0.0.1 and serves www/; prints the URL.
set -euo pipefail
cd "$(dirname "$0")/.."
SKIP_BROWSER=1 scripts/setup.sh
scripts/build.sh
exec node e2e/demo.mjs "$@"
