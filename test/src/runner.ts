/**
 * `kiln hil run` as a function: load a bench, start it, run the suites (per-DUT cases
 * on all DUTs in parallel), retry failed cases, and return one result per case for
 * the summary table and the JUnit report. The bench is always stopped.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '@kiln/protocol';
import { type RunningBench, startBench } from './bench.ts';
import { type Bench, loadBench } from './bench-file.ts';
import type { Dut } from './dut.ts';
import { type CaseResult, caseName } from './junit.ts';
import { type HilContext, type HilSuite, type HilTest, isSuite } from './suite.ts';

export const DEFAULT_SUITES = new URL('../suites/', import.meta.url);

export interface RunOptions {
  bench: string | Bench;
  /** Suite files or folders (every .ts in them); default test/suites/. */
  suites?: readonly string[];
  /** Only cases whose "suite > test" matches this regex. */
  grep?: string;
  /** Run a failed case again up to N times; it passes if any attempt passes. */
  retries?: number;
  logDir: string;
  /** Default expect timeout in ms (30 s). */
  timeoutMs?: number;
  onStatus?: (line: string) => void;
  onResult?: (r: CaseResult) => void;
}

export interface RunReport {
  bench: Bench;
  results: CaseResult[];
  logs: { dut: string; file: string }[];
  ms: number;
}

function suiteFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    const abs = resolve(p);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(abs);
    } catch {
      throw new UsageError('SUITE_NOT_FOUND', `no suite file or folder ${p}`, {
        hint: 'the shipped suites are in test/suites/',
      });
    }
    if (st.isDirectory()) {
      for (const f of readdirSync(abs).sort()) if (f.endsWith('.ts') && !f.endsWith('.d.ts')) files.push(join(abs, f));
    } else files.push(abs);
  }
  return files;
}

export async function loadSuites(paths: readonly string[]): Promise<HilSuite[]> {
  const suites: HilSuite[] = [];
  for (const file of suiteFiles(paths)) {
    const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
    if (!isSuite(mod.default)) {
      throw new UsageError('SUITE_INVALID', `${file} has no default export made with defineSuite()`, {
        hint: "export default defineSuite('name', ({ test }) => { … }) — see docs/HIL.md",
      });
    }
    suites.push(mod.default);
  }
  return suites;
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: the case did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function runCase(
  running: RunningBench,
  suite: HilSuite,
  test: HilTest,
  dut: Dut,
  perDut: boolean,
  retries: number,
): Promise<CaseResult> {
  const started = performance.now();
  const watched = perDut ? [dut] : running.duts;
  const marks = watched.map((d) => d.mark());
  let failure: CaseResult['failure'];
  let attempts = 0;
  while (attempts <= retries) {
    attempts++;
    const ctx: HilContext = {
      dut,
      duts: running.duts,
      gateway: running.gateway,
      bench: running,
      provisioned: (d = dut) => running.provisioned(d),
    };
    try {
      await timeout(test.run(ctx), test.timeoutMs, `${suite.name} > ${test.name}`);
      failure = undefined;
      break;
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      const code = (err as { code?: unknown }).code;
      failure = {
        message: err.message.split('\n')[0] ?? err.message,
        type: typeof code === 'string' ? code : err.name,
        text: `${err.message}${attempts <= retries ? `\n(attempt ${attempts} of ${retries + 1})` : ''}\n${err.stack?.split('\n').slice(1).join('\n') ?? ''}`,
      };
    }
  }
  const output = watched
    .map((d, i) => {
      const lines = d.linesSince(marks[i] ?? 0);
      return watched.length > 1 ? `==== ${d.name} (${d.logFile})\n${lines.join('\n')}` : lines.join('\n');
    })
    .join('\n');
  return {
    suite: suite.name,
    test: test.name,
    dut: perDut ? dut.name : undefined,
    status: failure ? 'failed' : 'passed',
    ms: performance.now() - started,
    attempts,
    ...(failure ? { failure } : {}),
    output,
  };
}

export async function runHil(o: RunOptions): Promise<RunReport> {
  const started = performance.now();
  const bench = typeof o.bench === 'string' ? loadBench(o.bench) : o.bench;
  const suites = await loadSuites(o.suites?.length ? o.suites : [DEFAULT_SUITES.pathname]);
  let grep: RegExp | undefined;
  try {
    grep = o.grep ? new RegExp(o.grep) : undefined;
  } catch (e) {
    throw new UsageError('GREP_INVALID', `--grep ${o.grep}: ${(e as Error).message}`);
  }
  const selected = suites
    .map((s) => ({ suite: s, tests: s.tests.filter((t) => !grep || grep.test(`${s.name} > ${t.name}`)) }))
    .filter((s) => s.tests.length > 0);
  if (selected.length === 0) {
    throw new UsageError('NO_TESTS', `no test matches${o.grep ? ` --grep ${o.grep}` : ''}`, {
      hint: 'the regex is matched against "suite > test"; the shipped suites are in test/suites/',
    });
  }
  const running = await startBench(bench, {
    logDir: o.logDir,
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.onStatus ? { onStatus: o.onStatus } : {}),
  });
  const results: CaseResult[] = [];
  const record = (r: CaseResult) => {
    results.push(r);
    o.onResult?.(r);
  };
  try {
    for (const { suite, tests } of selected) {
      for (const test of tests) {
        if (test.each === 'bench') {
          record(await runCase(running, suite, test, running.duts[0] as Dut, false, o.retries ?? 0));
        } else {
          const list = await Promise.all(
            running.duts.map((d) => runCase(running, suite, test, d, true, o.retries ?? 0)),
          );
          for (const r of list) record(r);
        }
      }
    }
  } finally {
    await running.close();
  }
  return {
    bench,
    results,
    logs: running.duts.map((d) => ({ dut: d.name, file: d.logFile })),
    ms: performance.now() - started,
  };
}

/** The summary table: one row per case, then the totals. */
export function formatSummary(report: RunReport): string {
  const rows = report.results.map((r) => [
    r.status === 'passed' ? 'PASS' : 'FAIL',
    r.suite,
    caseName(r),
    `${(r.ms / 1000).toFixed(1)} s${r.attempts > 1 ? ` (${r.attempts} attempts)` : ''}`,
  ]);
  const head = ['result', 'suite', 'test', 'time'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const failed = report.results.filter((r) => r.status === 'failed').length;
  return [
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `${report.results.length - failed} passed, ${failed} failed, on ${report.bench.duts.length} DUTs of bench ${report.bench.name} in ${(report.ms / 1000).toFixed(1)} s`,
    `DUT logs: ${report.logs.map((l) => l.file).join(', ')}`,
    '',
  ].join('\n');
}
