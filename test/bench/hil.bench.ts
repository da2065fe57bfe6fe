/**
 * `npm run bench -- hil` (issue 8): the wall time of the full shipped HIL suite
 * (test/suites/, what `kiln hil run` runs) on the 4-board virtual bench
 * hardware/benches/virtual-4.yaml, from loading the bench file to every board and the
 * gateway stopped. Target: at most 90 s. Baseline, measured in the same run: the same
 * suites on one board of that bench, so the parallel speed-up is visible (DUT-cases per
 * second, and 4 boards' time against 1 board's; perfect parallelism is 1.00).
 *
 * Both runs must pass: a failed case makes the figures meaningless, so it exits 1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBench } from '../src/bench-file.ts';
import { caseName } from '../src/junit.ts';
import { type RunReport, runHil } from '../src/runner.ts';

const TARGET_S = 90;
const BENCH = fileURLToPath(new URL('../../hardware/benches/virtual-4.yaml', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kiln-hil-bench-'));

interface Run {
  label: string;
  boards: number;
  seconds: number;
  report: RunReport;
}

async function run(label: string, boards: number): Promise<Run> {
  const file = loadBench(BENCH);
  const bench = { ...file, duts: file.duts.slice(0, boards) };
  const started = performance.now();
  const report = await runHil({ bench, logDir: join(dir, label) });
  const seconds = (performance.now() - started) / 1000;
  const failed = report.results.filter((r) => r.status === 'failed');
  console.log(
    `[${label}] ${boards} board(s): ${report.results.length - failed.length} passed, ${failed.length} failed in ${seconds.toFixed(1)} s`,
  );
  for (const f of failed) console.log(`  FAIL ${f.suite} > ${caseName(f)}: ${f.failure?.message}`);
  if (failed.length) {
    console.log(`  DUT logs: ${join(dir, label)} (kept)`);
    process.exitCode = 1;
  }
  return { label, boards, seconds, report };
}

const fmt = (n: number, d = 1) => n.toFixed(d);

try {
  console.log(`HIL suites, ${BENCH.replace(`${process.cwd()}/`, '')}; one board first (baseline), then all four`);
  const one = await run('baseline', 1);
  const four = await run('bench', 4);

  const cases = (r: Run) => r.report.results.filter((x) => x.dut !== undefined).length;
  const rate = (r: Run) => cases(r) / r.seconds;
  console.log('\n== Figures (one run, virtual boards, gateway and harness on the same 2 cores)');
  console.log(
    `  full suite on 4 boards:        ${fmt(four.seconds)} s   target ≤ ${TARGET_S} s   ratio ${fmt(four.seconds / TARGET_S, 2)}`,
  );
  console.log(`  baseline, same suite, 1 board: ${fmt(one.seconds)} s`);
  console.log(
    `  4 boards / 1 board wall time:  ${fmt(four.seconds / one.seconds, 2)} (1.00 = perfectly parallel, 4.00 = serial)`,
  );
  console.log(
    `  per-DUT cases per second:      ${fmt(rate(four), 2)} on 4 boards vs ${fmt(rate(one), 2)} on 1 (speed-up ${fmt(rate(four) / rate(one), 2)}×)`,
  );
  // Where the time goes: each case's wall time on the 4-board bench (per-DUT cases run in parallel).
  const bySuite = new Map<string, number>();
  const byCase = new Map<string, number>();
  for (const r of four.report.results) {
    const key = `${r.suite} > ${r.test}`;
    byCase.set(key, Math.max(byCase.get(key) ?? 0, r.ms));
  }
  for (const [key, ms] of byCase) {
    const suite = key.split(' > ')[0] as string;
    bySuite.set(suite, (bySuite.get(suite) ?? 0) + ms);
  }
  console.log('\n  time per suite on 4 boards (slowest DUT of each case):');
  for (const [suite, ms] of [...bySuite].sort((a, b) => b[1] - a[1])) {
    console.log(`    ${suite.padEnd(28)} ${fmt(ms / 1000).padStart(5)} s`);
  }
  const inCases = [...byCase.values()].reduce((a, b) => a + b, 0) / 1000;
  console.log(`    ${'(bench start, flash, stop)'.padEnd(28)} ${fmt(four.seconds - inCases).padStart(5)} s`);
} finally {
  if (!process.exitCode) rmSync(dir, { recursive: true, force: true });
}
