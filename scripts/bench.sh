#!/usr/bin/env bash
# `npm run bench [-- NAME…]`: runs the benchmarks named (all when none is), each a
# `<package>/bench/<name>.bench.ts` that prints its figures and their ratios to a
# baseline measured in the same run. Never part of `npm test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
mapfile -t all < <(ls -1 */bench/*.bench.ts 2>/dev/null | sort)
if (($# == 0)); then
  selected=("${all[@]}")
else
  selected=()
  for name in "$@"; do
    match=$(printf '%s\n' "${all[@]}" | grep -E "/${name}\.bench\.ts$" || true)
    if [ -z "$match" ]; then
      echo "kiln bench: no benchmark named '$name'; there are: $(printf '%s\n' "${all[@]}" | sed -E 's|.*/||; s|\.bench\.ts$||' | tr '\n' ' ')" >&2
      exit 2
    fi
    selected+=("$match")
  done
fi
for file in "${selected[@]}"; do
  printf '\n== %s\n' "$file"
  npx tsx "$file"
done
