#!/usr/bin/env bash
# Keeps the shared target directory from filling the disk: every change to
# the workspace links new test, bench and binary executables (hundreds of
# MB each, RocksDB and debug info included) beside the old ones, which cargo
# never deletes. Of each executable in release/deps this keeps only the
# newest; cargo links again whatever it needs. Libraries are left alone, so
# nothing is recompiled.
set -euo pipefail
deps="${CARGO_TARGET_DIR:?}/release/deps"
[ -d "$deps" ] || exit 0
# name-hash executables (no extension), newest first; drop all but the first of each name.
find "$deps" -maxdepth 1 -type f -perm -u+x ! -name '*.*' -printf '%T@ %f\n' |
  sort -rn |
  awk '{ name = $2; sub(/-[0-9a-f]+$/, "", name); if (seen[name]++) print $2 }' |
  while read -r old; do rm -f "$deps/$old"; done
