#!/usr/bin/env bash
# Prints the path of a Garage binary (the S3-compatible, replicated object
# store the replication tests run against), installing it first when
# missing: `cargo install --locked garage` into ~/.cache/aidledger-tools
# (outside the clone, kept between runs). $GARAGE names another binary.
# Cold, on a 2-core machine, the install took 10 min 38 s.
set -euo pipefail
version=2.5.0
if [ -n "${GARAGE:-}" ]; then
  echo "$GARAGE"
  exit 0
fi
root="$HOME/.cache/aidledger-tools/garage"
bin="$root/bin/garage"
if ! "$bin" --version 2>/dev/null | grep -q ":$version "; then
  echo "garage: installing garage $version into $root (cargo install --locked; ~11 min cold)" >&2
  CARGO_TARGET_DIR="$HOME/.cache/aidledger-tools/garage-target" \
    cargo install --locked garage --version "$version" --root "$root" -j2 >&2
fi
echo "$bin"
