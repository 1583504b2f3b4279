#!/usr/bin/env bash
# Checks setup.sh's detection against fake trees: a tree that holds only
# libclang-cpp (what Debian images ship) must count as "missing", trees with a
# library that bindgen loads as "present". Run by test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
AIDLEDGER_SETUP_FUNCTIONS_ONLY=1 source scripts/setup.sh

passed=0
failed=0
# check EXPECTED FILE...: a fresh directory holding FILEs must be EXPECTED.
check() {
  local expected=$1 got dir
  shift
  dir=$(mktemp -d)
  local f
  for f in "$@"; do touch "$dir/$f"; done
  if libclang_in "$dir"; then got=present; else got=missing; fi
  rm -rf "$dir"
  if [ "$got" = "$expected" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "setup-test: a tree with [$*] is $got, expected $expected" >&2
  fi
}

check missing
check missing libclang-cpp.so.14
check missing libclang-cpp.so libclang-cpp.so.14 libclangBasic.a
check present libclang-14.so.1
check present libclang-cpp.so.14 libclang-14.so.1
check present libclang.so
check present libclang.so.1
check present libclang-16.so

# Without apt-get (not Debian): one line naming the packages, exit 2.
no_apt=$( (PATH=/nonexistent; install_missing libclang-dev clang) 2>&1 || echo "exit $?")
case "$no_apt" in
  *"by hand"*"libclang-dev clang"*"exit 2") passed=$((passed + 1)) ;;
  *) failed=$((failed + 1)); echo "setup-test: without apt-get: $no_apt" >&2 ;;
esac

# The real machine: what the detection says must match whether a library
# clang-sys accepts exists (after setup ran, it must be present).
if [ "${1:-}" = --installed ]; then
  if have_libclang; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "setup-test: libclang missing after setup" >&2
  fi
fi

echo "setup: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
