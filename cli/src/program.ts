/**
 * The command tree. Each package owns its subcommands and registers them here
 * through its `cli.ts`; this file only decides the order they are listed in, and
 * loads only the package that owns the command run (`kiln gateway` need not load
 * the flasher, the provisioning and the HIL runner: 0.4 s of a 1.1 s start here).
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { CliIo } from './main.ts';

type Registrar = (program: Command) => void;

interface CommandPackage {
  /** The top-level commands its registrar adds (cli/test/program.test.ts holds this to it). */
  readonly commands: readonly string[];
  readonly load: () => Promise<{ registerCommands: Registrar }>;
}

/** Packages that own subcommands, in the order of DESIGN.md's pipeline. */
export const COMMAND_PACKAGES: readonly CommandPackage[] = [
  { commands: ['board'], load: () => import('@kiln/hardware/cli') },
  {
    commands: ['ports', 'chip-info', 'flash', 'erase', 'read-flash', 'reset', 'image', 'partitions', 'monitor'],
    load: () => import('@kiln/flasher/cli'),
  },
  { commands: ['provision', 'nvs'], load: () => import('@kiln/provisioning/cli') },
  { commands: ['gateway', 'devices', 'telemetry'], load: () => import('@kiln/companion/cli') },
  { commands: ['hil'], load: () => import('@kiln/test/cli') },
  // `kiln up` integrates every package, so it lives here rather than in one of them.
  { commands: ['up'], load: () => import('./up/command.ts') },
];

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/**
 * `argv` as process.argv: when its command belongs to one package, only that package is
 * loaded; none for --version; otherwise (no command, help, an unknown one, for its
 * suggestions) all of them.
 */
export async function buildProgram(io: CliIo, argv: readonly string[] = []): Promise<Command> {
  const program = new Command('kiln')
    .description('One toolchain for ESP32 fleets: flash, provision, run the gateway, watch telemetry, test on a bench.')
    .version(version, '-V, --version', 'print the Kiln version')
    .helpOption('-h, --help', 'show help for kiln or a command')
    .showSuggestionAfterError(true)
    .showHelpAfterError("(run 'kiln --help' for the commands, 'kiln <command> --help' for one)")
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 internal error, 2 usage, 3 port, 4 device, 5 verify,
6 server, 7 tests failed, 130 interrupted (docs/EXIT-CODES.md).`,
  );
  const name = argv[2];
  const owner = COMMAND_PACKAGES.find((p) => name !== undefined && p.commands.includes(name));
  const wanted = name === '-V' || name === '--version' ? [] : owner ? [owner] : COMMAND_PACKAGES;
  const packages = await Promise.all(wanted.map((p) => p.load()));
  for (const p of packages) p.registerCommands(program);
  // Subcommands inherit the output routing and the exit override.
  for (const cmd of program.commands) {
    cmd.configureOutput({ writeOut: io.out, writeErr: io.err }).exitOverride().showSuggestionAfterError(true);
  }
  return program;
}
