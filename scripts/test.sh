#!/usr/bin/env bash
# Runs the whole test suite (what CI runs). Tests build with --release so
# that RocksDB is compiled once for tests and benchmarks alike.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# setup.sh's own detection, on fake trees and on this machine.
setup_line=$(bash scripts/setup-test.sh --installed | tail -1)
echo "$setup_line"
# The public page is checked in a real headless Chromium (node/tests/page.rs
# runs $CHROMIUM, else /usr/bin/chromium): it must start, not merely exist.
"${CHROMIUM:-/usr/bin/chromium}" --version >/dev/null 2>&1 || install_missing chromium
# A Chinese font, so that the page's screenshots (test artifacts) show text.
fc-list :lang=zh 2>/dev/null | grep -q . || install_missing fonts-wqy-microhei
export PAGE_SCREENSHOTS="${PAGE_SCREENSHOTS:-${CARGO_TARGET_DIR:-$PWD/target}/page-screenshots}"
# Replication is tested against a real Garage cluster (S3-compatible,
# replicated): installed once into ~/.cache/aidledger-tools (~11 min cold).
GARAGE=$(bash scripts/garage.sh)
export GARAGE
# The CLI's IATI export is validated against the 2.03 XSD with xmllint.
command -v xmllint >/dev/null || install_missing libxml2-utils
# A three-member etcd cluster on loopback for the writer's lock (SPEC §8):
# Debian's etcd-server (3.4), its v3 JSON gateway on each client port.
command -v etcd >/dev/null || install_missing etcd-server
# The repository carries its own copy of the contract (docs/SPEC.md); say so
# when the shared copy has moved on (its changelog is the last section).
if [ -f ../shared/SPEC.md ] && ! cmp -s ../shared/SPEC.md docs/SPEC.md; then
  echo "warning: docs/SPEC.md differs from ../shared/SPEC.md: bring the shared changes in" >&2
fi
# The CLI must build without RocksDB (auditors need no C++ toolchain).
if cargo tree -p cli -e normal --prefix none | grep -q '^rocksdb'; then
  echo "the cli crate depends on rocksdb" >&2
  exit 1
fi
# The verifier has no I/O runtime, so any implementation can take it whole.
runtime=$(cargo tree -p aidledger-verify -e normal --prefix none |
  grep -E '^(tokio|axum|hyper|rocksdb|librocksdb-sys|fjall|mio|object_store|ureq) ' || true)
if [ -n "$runtime" ]; then
  echo "aidledger-verify depends on an I/O runtime: $runtime" >&2
  exit 1
fi
# Old executables of earlier builds are removed first: the shared target
# directory would otherwise grow by gigabytes with every change.
bash scripts/prune-target.sh
# What run.sh builds, then the tests: RocksDB must be built once for both.
bash scripts/same-rocksdb.sh
# Benches are built (so they cannot rot) but not run: they are measurements.
# The binaries too: the CLI's tests drive the node binary.
cargo build --release --workspace --bins --benches
# Lints, on the release build's dependencies (under a minute when warm).
cargo clippy --release --workspace --all-targets -q -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --release --workspace "$@" 2>&1 | tee "$log" || status=$?
# One closing line over every test binary.
echo "$setup_line" >>"$log"
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     /^setup: [0-9]+ passed/ { p += $2; f += $4 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
echo "page screenshots: $PAGE_SCREENSHOTS"
exit "$status"
