#!/usr/bin/env bash
# The main job: builds and runs the demo (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo run --release -p ledger --example demo -- "$@"
