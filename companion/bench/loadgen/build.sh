#!/usr/bin/env bash
# Builds the native device-fleet load generator (bench/native-fleet.ts runs it) into build/loadgen,
# only when a source is newer than the binary. Needs a C compiler and OpenSSL's headers
# (libssl-dev, installed by scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")"
out=build/loadgen
srcs=(loadgen.c conn.c)
stale=0
[ -x "$out" ] || stale=1
for f in "${srcs[@]}" loadgen.h build.sh; do [ "$f" -nt "$out" ] && stale=1; done
if [ "$stale" = 1 ]; then
  mkdir -p build
  cc -O2 -Wall -Wextra -std=c11 -o "$out.tmp" "${srcs[@]}" -lssl -lcrypto -lm
  mv "$out.tmp" "$out"
fi
