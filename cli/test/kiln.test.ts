/** The `kiln` executable as a user meets it: a real process, its output and its exit code. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const KILN = fileURLToPath(new URL('../bin/kiln.js', import.meta.url));
const root = JSON.parse(
  (await import('node:fs')).readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

function kiln(...args: string[]) {
  const r = spawnSync(process.execPath, [KILN, ...args], { encoding: 'utf8', timeout: 20_000, stdio: 'pipe' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('kiln', () => {
  it('--help describes Kiln, its commands and the exit codes', () => {
    const r = kiln('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: kiln/);
    expect(r.out).toContain('Exit codes: 0 ok');
  });

  it('--version prints the package version', () => {
    const r = kiln('--version');
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(root.version);
  });

  it('an unknown command exits 2 and says where to look', () => {
    const r = kiln('frobnicate');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/error: (unknown command|too many arguments)/);
    expect(r.err).toContain("run 'kiln --help'");
  });

  it('an unknown flag exits 2 and names the flag', () => {
    const r = kiln('--frob');
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown option '--frob'");
  });

  it('every registered command has its own --help with an example', async () => {
    const { buildProgram } = await import('../src/program.ts');
    const program = buildProgram({ out: () => {}, err: () => {} });
    const top = kiln('--help').out;
    for (const cmd of program.commands) {
      const r = kiln(cmd.name(), '--help');
      expect(r.code, cmd.name()).toBe(0);
      expect(r.out, `${cmd.name()} --help`).toMatch(/Examples?:/);
      expect(top, 'listed in kiln --help').toContain(cmd.name());
    }
  });
});
