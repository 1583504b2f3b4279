#!/usr/bin/env bash
# Installs what building aidledger needs beyond rustup, and only when missing:
# a C/C++ toolchain (RocksDB's C++), libclang (rocksdb's bindgen) and cargo on
# PATH. Sourced by run.sh and test.sh. Each need is detected by what the build
# really uses, not by a look-alike file: bindgen loads libclang itself, never
# libclang-cpp, which Debian images ship on their own.
set -euo pipefail

# install_missing PKG...: apt-get install the given Debian packages. Without
# apt (not Debian) say once which packages to install by hand and stop.
install_missing() {
  [ $# -gt 0 ] || return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: no apt-get here; install these (Debian names) by hand, then re-run: $*" >&2
    exit 2
  fi
  echo "setup: installing $*" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# libclang_in DIR...: true if one of DIR holds a library that clang-sys
# (bindgen's loader) accepts: libclang.so, libclang-<v>.so, libclang.so.<n> or
# libclang-<v>.so.<n>. libclang-cpp is a different library that clang-sys
# skips, so it does not count.
libclang_in() {
  local dir f name
  for dir in "$@"; do
    for f in "$dir"/libclang.so "$dir"/libclang-*.so "$dir"/libclang.so.* "$dir"/libclang-*.so.*; do
      [ -e "$f" ] || continue
      name=${f##*/}
      case "$name" in libclang-cpp*) continue ;; esac
      return 0
    done
  done
  return 1
}

# The directories clang-sys 1.x searches on Linux (build/common.rs), after
# LIBCLANG_PATH and `llvm-config --libdir`.
libclang_dirs() {
  [ -z "${LIBCLANG_PATH:-}" ] || echo "$LIBCLANG_PATH"
  ! command -v llvm-config >/dev/null 2>&1 || llvm-config --libdir 2>/dev/null || true
  local d
  for d in /usr/local/llvm*/lib* /usr/local/lib*/*/* /usr/local/lib*/* /usr/local/lib* \
    /usr/lib*/*/* /usr/lib*/* /usr/lib*; do
    [ -d "$d" ] && echo "$d"
  done
  return 0
}

have_libclang() {
  local dirs
  mapfile -t dirs < <(libclang_dirs)
  libclang_in "${dirs[@]+"${dirs[@]}"}"
}

# Rust from rustup lives in ~/.cargo/bin, which a non-login shell may not
# have on PATH yet.
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  else
    echo "setup: cargo not found; install Rust with rustup (https://rustup.rs), then re-run" >&2
    exit 2
  fi
fi

# Only act when run as a script's setup, not when a test sources the functions.
if [ "${AIDLEDGER_SETUP_FUNCTIONS_ONLY:-}" != 1 ]; then
  missing=()
  # RocksDB's C++ is compiled by the cc crate with `c++` and archived with `ar`.
  { command -v c++ && command -v cc && command -v ar; } >/dev/null 2>&1 || missing+=(build-essential)
  have_libclang || missing+=(libclang-dev clang)
  install_missing "${missing[@]+"${missing[@]}"}"

  # One target dir outside the clone, shared by every checkout on this machine:
  # RocksDB's C++ takes 10-20 minutes to build and is built once.
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aidledger-target}"
  export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
fi
