#!/usr/bin/env bash
# Builds what the README's two commands build, run.sh's first, and checks
# that RocksDB is built once: librocksdb-sys must come out as the same
# artifact from both (its file name carries cargo's hash of its features,
# profile and dependencies). If the two resolve features differently (the
# CLI alone turns on libc's extra_traits) cargo builds RocksDB a second
# time, 15-25 minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
rocksdb() {
  cargo "$@" --message-format=json | grep -o 'liblibrocksdb_sys-[0-9a-f]*\.rlib' | sort -u
}
run=$(rocksdb build --release --workspace --bins)
test=$(rocksdb test --release --workspace --no-run)
if [ -z "$run" ] || [ "$run" != "$test" ]; then
  echo "RocksDB is built twice: run.sh's build gives '${run}', test.sh's '${test}'" >&2
  exit 1
fi
echo "rocksdb: built once for run.sh and test.sh ($run)"
