#!/usr/bin/env bash
# Installs everything ysync's build, demo and tests need. Idempotent: a second run only checks.
# Nothing here (or later, at run time) downloads a prebuilt binary: Rust tools are built with
# cargo, Chromium and chromedriver come from Debian, JS tooling from the npm lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

say "Rust targets and components"
rustup target add wasm32-unknown-unknown >/dev/null
rustup component add rustfmt clippy >/dev/null

# The CLI must be exactly the wasm-bindgen version in Cargo.lock (Cargo.toml pins it with '=').
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $wb_version"; then
  say "wasm-bindgen-cli $wb_version"
  # No --locked: one of its locked dependency versions is not in the registry mirror here.
  cargo install wasm-bindgen-cli --version "$wb_version" --force
fi
if ! wasm-pack --version 2>/dev/null | grep -q '0.15.1'; then
  say "wasm-pack 0.15.1"
  cargo install wasm-pack --version 0.15.1 --force
fi

if [ "${SKIP_BROWSER:-0}" != 1 ] && { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; }; then
  say "Chromium and chromedriver (Debian)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver
fi

# The fuzz crate (built by the tests so its targets cannot rot) compiles libFuzzer's C++.
if ! command -v g++ >/dev/null; then
  say "g++ (Debian), for libfuzzer-sys"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++
fi

# Servers the conformance tests run against: Redis (Hocuspocus scale-out) from Debian, y-sweet
# built with cargo from the crate's own lockfile (a plain install fails on a tokio feature; its
# npm wrapper downloads a binary, which is not allowed here). Its build time: docs/servers.md.
if ! command -v redis-server >/dev/null; then
  say "redis-server (Debian), for the Hocuspocus scale-out tests"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
fi
if ! y-sweet version 2>/dev/null | grep -q '0.9.1'; then
  say "y-sweet 0.9.1 (cargo, --locked)"
  cargo install y-sweet --version 0.9.1 --locked --force
fi

lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.ysync-lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  say "npm packages (package-lock.json: the repository's Node tooling)"
  # Not `npm ci`: the registry mirror here lists only this platform's optional native
  # packages (rollup, esbuild), so `npm ci` calls the lockfile out of sync. `npm install` with
  # the lockfile installs exactly the locked versions and leaves the lockfile as it is.
  npm install --no-audit --no-fund --ignore-scripts
  echo "$lock_hash" > node_modules/.ysync-lock-hash
fi
echo "setup: ok"
