#!/usr/bin/env bash
# Builds the firmware core for the host (firmware/host: same sources as the
# ESP-IDF build, OpenSSL port, ASan/UBSan on) and runs its cmocka tests with ctest.
# Runnable from any directory; the build output is shown only if a step fails, so
# the last lines are ctest's own summary.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/firmware/build-host"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

run_quiet() {
  local what="$1"
  shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "test-c: $what failed (output above)" >&2
    exit 1
  fi
}

echo "test-c: configuring and building firmware/host into firmware/build-host"
run_quiet "configure" cmake -S "$root/firmware/host" -B "$build" -DCMAKE_BUILD_TYPE=Debug
run_quiet "build" cmake --build "$build" -j2
ctest --test-dir "$build" --output-on-failure
