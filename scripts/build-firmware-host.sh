#!/usr/bin/env bash
# Configures and builds the firmware host build (firmware/host -> firmware/build-host):
# the core's cmocka tests, the kiln-device executable and its app image. Quiet unless a
# step fails. Used by scripts/test-c.sh and by tests that need kiln-device.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KILN_FIRMWARE_BUILD:-$root/firmware/build-host}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

run_quiet() {
  local what="$1"
  shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "build-firmware-host: $what failed (output above)" >&2
    exit 1
  fi
}

echo "build-firmware-host: configuring and building firmware/host into ${build#"$root"/}"
src="$root/firmware/host"
case "$build" in */build-fuzz) src="$root/firmware/host/fuzz" ;; esac
run_quiet "configure" cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug "$@"
run_quiet "build" cmake --build "$build" -j2
