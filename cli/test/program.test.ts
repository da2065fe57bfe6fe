/**
 * The command tree loads only the package that owns the command run. That works only while
 * COMMAND_PACKAGES names exactly the commands each package registers: a name listed under the
 * wrong package would make that command unknown, and one left out would load every package.
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, COMMAND_PACKAGES } from '../src/program.ts';

const io = { out: () => {}, err: () => {} };
const names = (program: Command) => program.commands.map((c) => c.name());

describe('command packages', () => {
  it('each package registers exactly the commands listed for it, and all of them together make kiln', async () => {
    const all: string[] = [];
    for (const p of COMMAND_PACKAGES) {
      const program = new Command('kiln');
      (await p.load()).registerCommands(program);
      expect(names(program), `the commands of ${p.commands[0]}'s package`).toEqual(p.commands);
      all.push(...names(program));
    }
    expect(names(await buildProgram(io))).toEqual(all);
    expect(new Set(all).size, 'no command in two packages').toBe(all.length);
  });

  it("loads only the owner's commands for a command it knows, none for --version, and every package otherwise", async () => {
    const argv = (...args: string[]) => ['node', 'kiln', ...args];
    expect(names(await buildProgram(io, argv('gateway', '--data-dir', 'd')))).toEqual([
      'gateway',
      'devices',
      'telemetry',
    ]);
    expect(names(await buildProgram(io, argv('flash', 'build/')))).toContain('chip-info');
    expect(names(await buildProgram(io, argv('--version')))).toEqual([]);
    const every = COMMAND_PACKAGES.flatMap((p) => p.commands);
    for (const args of [[], ['--help'], ['help', 'gateway'], ['gatway']])
      expect(names(await buildProgram(io, argv(...args))), args.join(' ')).toEqual(every);
  });
});
