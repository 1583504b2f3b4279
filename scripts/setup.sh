#!/usr/bin/env bash
# Installs what building aidledger needs beyond rustup, and only when missing:
# a C++ compiler and libclang (rocksdb's bindgen). Sourced by run.sh and test.sh.
set -euo pipefail

# install_missing PKG...: apt-get install the given Debian packages.
install_missing() {
  [ $# -gt 0 ] || return 0
  echo "setup: installing $*" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

have_libclang() {
  ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so' ||
    compgen -G '/usr/lib/llvm-*/lib/libclang*.so*' >/dev/null
}

missing=()
command -v c++ >/dev/null 2>&1 || missing+=(build-essential)
have_libclang || missing+=(libclang-dev clang)
install_missing "${missing[@]+"${missing[@]}"}"

# One target dir outside the clone, shared by every checkout on this machine:
# RocksDB's C++ takes 10-20 minutes to build and is built once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aidledger-target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
