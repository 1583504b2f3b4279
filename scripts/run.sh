#!/usr/bin/env bash
# The main job: a node serving the demo ledger (seeded on first run) on an
# embedded RocksDB store in ./demo-data. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The whole workspace's binaries, not `-p node` alone: built alone, the
# node resolves its dependencies' features differently (the CLI turns on
# libc's extra_traits), and the test command would then build RocksDB a
# second time. scripts/same-rocksdb.sh checks that the two agree.
cargo build --release --workspace --bins
exec "$CARGO_TARGET_DIR/release/aidledger-node" demo "$@"
