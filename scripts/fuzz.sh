#!/usr/bin/env bash
# Fuzzes every target for N seconds each (default 300), minimizes the corpora, and exports
# them (and any crash inputs) to tests/fixtures/fuzz/, which `cargo test` replays natively
# and on wasm32. Needs the nightly toolchain; installs cargo-fuzz if missing.
#   scripts/fuzz.sh [seconds-per-target] [target...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frame update_v1 update_v2 state_vector awareness)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
mkdir -p logs
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "== $t: ${secs}s"
  # A crash stops the run; the input is kept in artifacts/$t and exported below.
  cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -len_control=0 -max_len=4096 \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"logs/$t.log" 2>&1 || echo "   $t stopped: see fuzz/logs/$t.log"
  grep -E "^(#[0-9]+ +DONE|Done|stat::)" "logs/$t.log" || true
  cargo +nightly fuzz cmin "$t" >"logs/$t.cmin.log" 2>&1 || true
  echo "   corpus after cmin: $(ls "corpus/$t" | wc -l) inputs"
done
cargo run --release --bin export
