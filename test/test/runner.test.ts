/**
 * The runner in-process (runHil) on a one-DUT virtual bench: retries, --grep, whole-bench
 * cases, case timeouts, the summary table, and the usage errors raised before a bench is
 * started. Plus: every shipped suite loads and is a defineSuite() suite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBench } from '../src/bench-file.ts';
import { DEFAULT_SUITES, formatSummary, loadSuites, runHil } from '../src/runner.ts';
import { DEFAULT_CASE_TIMEOUT_MS, defineSuite, isSuite } from '../src/suite.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kiln-runner-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = loadBench(join(ROOT, 'hardware/benches/virtual.yaml'));
const oneDut = { ...file, duts: file.duts.slice(0, 1) };

describe('runHil', () => {
  it('retries, runs whole-bench cases once, stops a case at its timeout, honours --grep', {
    timeout: 60_000,
  }, async () => {
    const seen: string[] = [];
    const report = await runHil({
      bench: oneDut,
      suites: [join(FIXTURES, 'runner-suite.ts')],
      grep: '^runner fixture > (passes|always|sees|stops)',
      retries: 1,
      logDir: join(dir, 'logs'),
      onResult: (r) => seen.push(`${r.status} ${r.test}`),
    });
    const by = new Map(report.results.map((r) => [r.test, r]));
    expect([...by.keys()]).toEqual([
      'passes on the second attempt',
      'always fails',
      'sees the whole bench',
      'stops at its case timeout',
    ]);
    expect(seen).toHaveLength(4);
    expect(by.get('passes on the second attempt')).toMatchObject({ status: 'passed', attempts: 2, dut: 'dut-1' });
    expect(by.get('passes on the second attempt')?.output).toMatch(/protocol=kiln\.v1/);
    const failing = by.get('always fails');
    expect(failing).toMatchObject({ status: 'failed', attempts: 2 });
    expect(failing?.failure?.type).toBe('EXPECT_FAILED');
    expect(failing?.failure?.text).toMatch(/last \d+ lines of dut-1 \(log: .*dut-1\.log\):/);
    expect(by.get('sees the whole bench')).toMatchObject({ status: 'passed', dut: undefined });
    expect(by.get('stops at its case timeout')?.failure?.message).toBe(
      'runner fixture > stops at its case timeout: the case did not finish within 0.5 s',
    );
    const table = formatSummary(report);
    expect(table).toMatch(
      /^PASS\s+runner fixture\s+passes on the second attempt \[dut-1\]\s+\d+\.\d s \(2 attempts\)$/m,
    );
    expect(table).toMatch(/^FAIL\s+runner fixture\s+always fails \[dut-1\]/m);
    expect(table).toContain('2 passed, 2 failed, on 1 DUTs of bench virtual');
    expect(report.logs).toEqual([{ dut: 'dut-1', file: join(dir, 'logs', 'dut-1.log') }]);
  });

  it('refuses before starting a bench: no match, a bad regex, a missing file, a file without a suite', async () => {
    const base = { bench: oneDut, logDir: join(dir, 'never') };
    const fixture = [join(FIXTURES, 'runner-suite.ts')];
    await expect(runHil({ ...base, suites: fixture, grep: 'nothing matches this' })).rejects.toMatchObject({
      code: 'NO_TESTS',
    });
    await expect(runHil({ ...base, suites: fixture, grep: '(' })).rejects.toMatchObject({ code: 'GREP_INVALID' });
    await expect(runHil({ ...base, suites: [join(FIXTURES, 'missing.ts')] })).rejects.toMatchObject({
      code: 'SUITE_NOT_FOUND',
    });
    await expect(runHil({ ...base, suites: [join(FIXTURES, 'not-a-suite.ts')] })).rejects.toMatchObject({
      code: 'SUITE_INVALID',
    });
  });
});

describe('suites', () => {
  it('every shipped suite loads, in file-name order', async () => {
    const suites = await loadSuites([fileURLToPath(DEFAULT_SUITES)]);
    expect(suites.map((s) => s.name)).toEqual([
      'boot and version',
      'provisioning',
      'online at the gateway',
      'telemetry',
      'commands',
      'gateway restart',
      'revoked device',
      'reset during operation',
      're-flash and re-provision',
    ]);
    expect(suites.find((s) => s.name === 'gateway restart')?.tests.map((t) => t.each)).toEqual(['bench']);
  });

  it('defineSuite records per-DUT and whole-bench cases with their timeouts', () => {
    const s = defineSuite('s', ({ test, benchTest }) => {
      test('a', async () => {});
      benchTest('b', async () => {}, { timeout: 5000 });
    });
    expect(isSuite(s)).toBe(true);
    expect(isSuite({ name: 's', tests: [] })).toBe(false);
    expect(s.tests.map((t) => [t.name, t.each, t.timeoutMs])).toEqual([
      ['a', 'dut', DEFAULT_CASE_TIMEOUT_MS],
      ['b', 'bench', 5000],
    ]);
  });
});
