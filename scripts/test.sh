#!/usr/bin/env bash
# Sets up a fresh machine and runs every test: formatting, lints, native core tests (unit,
# simulated network, golden vectors), the same core tests on wasm32, browser tests in headless
# Chromium against a real @y/websocket-server, and the end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

export CHROMEDRIVER=/usr/bin/chromedriver
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=120
step() { printf '\n== %s\n' "$*"; }

step "format and lints"
cargo fmt --check
cargo fmt --check --manifest-path size/floor/Cargo.toml
cargo clippy --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown --lib --features bench,test-hooks -- -D warnings

step "golden vectors are what yjs/y-protocols produce"
node scripts/golden.mjs --check

step "fuzz targets still build (their replayed corpora run in the native and wasm32 tests)"
cargo build --quiet --release --manifest-path fuzz/Cargo.toml --bin export

step "native tests"
cargo test

step "core tests on wasm32"
cargo test --target wasm32-unknown-unknown --lib

step "browser tests (headless Chromium) against a real y-websocket server"
port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
HOST=127.0.0.1 PORT=$port node node_modules/@y/websocket-server/src/server.js >/tmp/ysync-test-server.log 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q 'running at' /tmp/ysync-test-server.log && break; sleep 0.1; done
YSYNC_TEST_SERVER="ws://127.0.0.1:$port" cargo test --target wasm32-unknown-unknown --test web
kill $server_pid 2>/dev/null || true
trap - EXIT

step "npm package (and its size against size/budget.json)"
scripts/build.sh
node scripts/size.mjs --floor --check

step "Rust example (a Rust web app using the crate) builds"
cargo build --quiet --target wasm32-unknown-unknown --example rust_app

step "yrs cost of many changes in one transaction (examples/one_transaction.rs; prints, never asserts timings)"
cargo run --quiet --release --example one_transaction 2000

step "benchmark harness (quick mode: checks it runs, not its timings)"
timeout 600 node bench/run.mjs --quick

step "end-to-end tests (Playwright, real server, node Yjs peers)"
# Every e2e/*.test.mjs but the differential run, which gets its own step and timeout.
node --test --test-timeout=120000 --test-concurrency=1 $(ls e2e/*.test.mjs | grep -v '^e2e/differential.test.mjs$')

step "differential convergence against Yjs (5 replicas, faults, restarts, reloads)"
node --test --test-timeout=3600000 e2e/differential.test.mjs
