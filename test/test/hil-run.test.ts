/**
 * Acceptance (issue 8): `kiln hil run --bench hardware/benches/virtual.yaml --junit out.xml`
 * runs every shipped suite on 3 virtual DUTs and passes, and the report validates against
 * test/fixtures/junit.xsd (xmllint); the harness's deliberately failing case fails the run
 * (exit 7) and shows the pattern, the DUT's log tail and the log path. Plus JUnit escaping
 * of serial noise and the option checks.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { toJunit } from '../src/junit.ts';
import { runKiln } from '../src/spawn-kiln.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const XSD = join(ROOT, 'test/fixtures/junit.xsd');
const dir = mkdtempSync(join(tmpdir(), 'kiln-hil-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `kiln ARGS` from the repository root, where the bench files' relative paths start. */
const kiln = (args: string[], timeoutMs = 60_000) => runKiln(args, { cwd: ROOT, timeoutMs });

function validate(file: string): { ok: boolean; output: string } {
  const r = spawnSync('xmllint', ['--noout', '--schema', XSD, file], { encoding: 'utf8' });
  if (r.error) throw new Error(`xmllint is needed (apt-get install libxml2-utils; npm run setup): ${r.error.message}`);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

describe('kiln hil run', () => {
  it('runs every shipped suite on the 3-DUT virtual bench; the JUnit report validates', {
    timeout: 180_000,
  }, async () => {
    const junit = join(dir, 'out.xml');
    const logDir = join(dir, 'logs');
    const r = await kiln(
      ['hil', 'run', '--bench', 'hardware/benches/virtual.yaml', '--junit', junit, '--log-dir', logDir],
      170_000,
    );
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^result\s+suite\s+test\s+time/m);
    expect(r.stdout).toMatch(/(\d+) passed, 0 failed, on 3 DUTs of bench virtual/);
    const perDut = [
      'boot and version',
      'provisioning',
      'online at the gateway',
      'telemetry',
      'commands',
      'revoked device',
      'reset during operation',
      're-flash and re-provision',
    ];
    for (const suite of perDut) {
      for (const dut of ['dut-1', 'dut-2', 'dut-3']) {
        expect(r.stdout).toMatch(new RegExp(`PASS\\s+${suite}\\s+.*\\[${dut}\\]`));
      }
    }
    expect(r.stdout).toMatch(
      /^PASS\s+gateway restart\s+every device comes back online; no sample is lost or stored twice\s/m,
    );
    const v = validate(junit);
    expect(v.ok, v.output).toBe(true);
    const xml = readFileSync(junit, 'utf8');
    expect(xml.match(/<testcase /g)?.length).toBeGreaterThanOrEqual(34);
    expect(xml).not.toContain('<failure');
    // Per-DUT logs with timestamps.
    const log = readFileSync(join(logDir, 'dut-2.log'), 'utf8');
    expect(log).toMatch(/^\d\d:\d\d:\d\d\.\d{3} I \(\d+\) kiln: kiln_firmware /m);
  });

  it('a failing case fails the run (exit 7) with the pattern, the DUT log tail and the log path', {
    timeout: 60_000,
  }, async () => {
    const junit = join(dir, 'fail.xml');
    const logDir = join(dir, 'fail-logs');
    const r = await kiln([
      'hil',
      'run',
      '--bench',
      'hardware/benches/virtual.yaml',
      '--suites',
      'test/test/fixtures/failing-suite.ts',
      '--junit',
      junit,
      '--log-dir',
      logDir,
    ]);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('dut-1: pattern "this line never appears" not found within 1.5 s');
    expect(r.stderr).toMatch(new RegExp(`last \\d+ lines of dut-1 \\(log: ${join(logDir, 'dut-1.log')}\\):`));
    expect(r.stderr).toMatch(/ {2}\| \d\d:\d\d:\d\d\.\d{3} I \(\d+\) kiln: state unprovisioned/);
    expect(r.stderr).toMatch(/3 of 3 HIL cases failed \[TESTS_FAILED\]/);
    expect(r.stdout).toMatch(/FAIL\s+deliberately failing\s+expects a line that never comes \[dut-3\]/);
    const v = validate(junit);
    expect(v.ok, v.output).toBe(true);
    expect(readFileSync(junit, 'utf8')).toMatch(/<failure message="dut-1: pattern &quot;this line never appears&quot;/);
  });

  it('refuses bad --retries and --timeout values with exit 2', async () => {
    const bench = ['hil', 'run', '--bench', 'hardware/benches/virtual.yaml'];
    const retries = await kiln([...bench, '--retries', 'two']);
    expect(retries.code).toBe(2);
    expect(retries.stderr).toContain('--retries two: expected a whole number ≥ 0');
    const timeout = await kiln([...bench, '--timeout', '0']);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain('--timeout 0: expected a whole number ≥ 1');
  });

  it('refuses an invalid bench file with file:line and exit 2', async () => {
    const r = await kiln(['hil', 'run', '--bench', 'test/fixtures/junit.xsd']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the bench file is invalid:\n {2}test\/fixtures\/junit\.xsd:\d+: /);
  });
});

describe('JUnit XML', () => {
  it('escapes markup and replaces control characters from the serial line; still validates', () => {
    const xml = toJunit('b<&>', [
      {
        suite: 's "1"',
        test: 't',
        dut: 'dut-1',
        status: 'failed',
        ms: 1234,
        attempts: 2,
        failure: { message: 'a <b> & "c"', type: 'EXPECT_FAILED', text: 'line\u0007\u001b[0m\u0000end' },
        output: 'I (1) x: <tag> \u0001',
      },
    ]);
    expect(xml).toContain('failure message="a &lt;b&gt; &amp; &quot;c&quot;"');
    expect(xml).toContain('line\uFFFD\uFFFD[0m\uFFFDend');
    expect(xml).toContain('time="1.234"');
    const file = join(dir, 'escape.xml');
    writeFileSync(file, xml);
    const v = validate(file);
    expect(v.ok, v.output).toBe(true);
  });
});
