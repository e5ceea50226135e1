#!/usr/bin/env bash
# Builds the npm package into pkg/ (wasm-pack, target web, no tool downloads).
set -euo pipefail
cd "$(dirname "$0")/.."
wasm-pack build --target web --release --mode no-install --out-dir pkg --out-name ysync
node npm/package.mjs
