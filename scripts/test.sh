#!/usr/bin/env bash
# `npm test`: sets up what is missing, then runs every check CI runs, in this order:
# lint and format (biome), typecheck (tsc), the generated C contract table, the
# TypeScript tests (vitest), the C tests (ctest, under ASan and UBSan).
# Every step runs even after a failure, so one run shows everything that is wrong;
# the exit code is non-zero if any step failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CI="${CI:-}"

bash scripts/setup.sh || exit 1

failed=()
step() {
  local name=$1
  shift
  printf '\n== %s\n' "$name"
  "$@" || failed+=("$name")
}

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

step "lint and format (biome)" npx biome ci --reporter=summary .
step "typecheck (tsc)" npx tsc --noEmit -p tsconfig.json
step "C schema generated from protocol/ is current" npx tsx protocol/scripts/generate-c-schema.ts --check
step "TypeScript tests (vitest)" npx vitest run --reporter=default --reporter=json --outputFile.json="$results/vitest.json"
# pipefail: the step's status is test-c.sh's, not tee's (without it a failing C test passed).
step "C tests (ctest)" bash -c "set -o pipefail; bash scripts/test-c.sh 2>&1 | tee '$results/ctest.log'"

# One closing line over both runners, in the plain form CI reads.
node - "$results" "${#failed[@]}" <<'JS' || failed+=("the count of failed tests")
const fs = require('node:fs');
const [dir, failedSteps] = process.argv.slice(2);
let passed = 0, failed = 0;
try {
  const v = JSON.parse(fs.readFileSync(`${dir}/vitest.json`, 'utf8'));
  passed += v.numPassedTests; failed += v.numFailedTests;
} catch { failed += 1; }
try {
  // test-c.sh runs ctest more than once (unit tests, then the bounded fuzz runs): count every summary.
  const runs = [...fs.readFileSync(`${dir}/ctest.log`, 'utf8').matchAll(/(\d+)% tests passed, (\d+) tests? failed out of (\d+)/g)];
  for (const m of runs) { passed += Number(m[3]) - Number(m[2]); failed += Number(m[2]); }
  if (runs.length === 0) failed += 1;
} catch { failed += 1; }
if (Number(failedSteps) > 0 && failed === 0) failed = Number(failedSteps);
console.log(`\nkiln: ${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
JS

if ((${#failed[@]})); then
  printf 'failed steps: %s\n' "${failed[@]}" >&2
  exit 1
fi
