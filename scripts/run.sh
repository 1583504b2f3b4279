#!/usr/bin/env bash
# The main job: a node serving the demo ledger (seeded on first run) on an
# embedded RocksDB store in ./demo-data. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec cargo run --release -p node --bin aidledger-node -- demo "$@"
