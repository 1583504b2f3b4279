#!/usr/bin/env bash
# Runs the whole test suite (what CI runs). Tests build with --release so
# that RocksDB is compiled once for tests and benchmarks alike.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# Benches are built (so they cannot rot) but not run: they are measurements.
cargo build --release --workspace --benches
cargo test --release --workspace "$@"
