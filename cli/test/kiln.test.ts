/** The `kiln` executable as a user meets it: a real process, its output and its exit code. */
import { runKiln } from '@kiln/test/spawn-kiln';
import { describe, expect, it } from 'vitest';

const root = JSON.parse(
  (await import('node:fs')).readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

const kiln = (...args: string[]) => runKiln(args, { timeoutMs: 20_000 });

describe('kiln', () => {
  it('--help describes Kiln, its commands and the exit codes', async () => {
    const r = await kiln('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: kiln/);
    expect(r.stdout).toContain('Exit codes: 0 ok');
  });

  it('--version prints the package version', async () => {
    const r = await kiln('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(root.version);
  });

  it('an unknown command exits 2 and says where to look', async () => {
    const r = await kiln('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: (unknown command|too many arguments)/);
    expect(r.stderr).toContain("run 'kiln --help'");
  });

  it('an unknown flag exits 2 and names the flag', async () => {
    const r = await kiln('--frob');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--frob'");
  });

  it('every registered command has its own --help with an example', async () => {
    const { buildProgram } = await import('../src/program.ts');
    const program = await buildProgram({ out: () => {}, err: () => {} });
    const top = (await kiln('--help')).stdout;
    for (const cmd of program.commands) {
      const r = await kiln(cmd.name(), '--help');
      expect(r.code, cmd.name()).toBe(0);
      expect(r.stdout, `${cmd.name()} --help`).toMatch(/Examples?:/);
      expect(top, 'listed in kiln --help').toContain(cmd.name());
    }
  }, 120_000); // one `kiln` process per command, about a second each
});
