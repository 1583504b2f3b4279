#!/usr/bin/env bash
# Runs the whole test suite (what CI runs). Tests build with --release so
# that RocksDB is compiled once for tests and benchmarks alike.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The public page is checked in a real headless Chromium (node/tests/page.rs).
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || install_missing chromium
# Benches are built (so they cannot rot) but not run: they are measurements.
cargo build --release --workspace --benches
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --release --workspace "$@" 2>&1 | tee "$log" || status=$?
# One closing line over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
exit "$status"
