#!/usr/bin/env bash
# Builds the firmware core for the host (firmware/host: same sources as the
# ESP-IDF build, OpenSSL port, ASan/UBSan on) and runs its cmocka tests, the image
# check and the bounded fuzz runs with ctest. Runnable from any directory; the build
# output is shown only if a step fails, so the last lines are ctest's own summary.
# KILN_FUZZ_SECONDS sets each fuzz run's length (default 15).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/build-firmware-host.sh"
ctest --test-dir "$root/firmware/build-host" --output-on-failure -j2

# libFuzzer (clang) on the serial side and the message parser, bounded: KILN_FUZZ_SECONDS each.
echo "test-c: fuzzing for ${KILN_FUZZ_SECONDS:-15} s (firmware/build-fuzz)"
KILN_FIRMWARE_BUILD="$root/firmware/build-fuzz" CC=clang bash "$root/scripts/build-firmware-host.sh" \
  -DKILN_FUZZ_SECONDS="${KILN_FUZZ_SECONDS:-15}" 2>/dev/null || {
  echo "test-c: the fuzz build needs clang and libclang-rt-14-dev (bash scripts/setup.sh)" >&2
  exit 1
}
ctest --test-dir "$root/firmware/build-fuzz" --output-on-failure -j2
