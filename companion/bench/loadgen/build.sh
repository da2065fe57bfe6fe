#!/usr/bin/env bash
# Builds the native device-fleet load generator (bench/native-fleet.ts runs it) into build/loadgen,
# only when a source is newer than the binary. Needs a C compiler and OpenSSL's headers
# (libssl-dev, installed by scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")"
out=build/loadgen
# The firmware's own reconnect policy (storm.c), compiled in as the device builds it.
backoff=../../../firmware/components/kiln_device
srcs=(loadgen.c conn.c storm.c "$backoff/src/kiln_backoff.c")
stale=0
[ -x "$out" ] || stale=1
for f in "${srcs[@]}" loadgen.h "$backoff/include/kiln_backoff.h" build.sh; do [ "$f" -nt "$out" ] && stale=1; done
if [ "$stale" = 1 ]; then
  mkdir -p build
  cc -O2 -Wall -Wextra -std=c11 -I"$backoff/include" -o "$out.tmp" "${srcs[@]}" -lssl -lcrypto -lm
  mv "$out.tmp" "$out"
fi
