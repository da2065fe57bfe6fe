/**
 * The command tree. Each package owns its subcommands and registers them here
 * through its `cli.ts`; this file only decides the order they are listed in.
 */
import { readFileSync } from 'node:fs';
import { registerCommands as gatewayCommands } from '@kiln/companion/cli';
import { registerCommands as flasherCommands } from '@kiln/flasher/cli';
import { registerCommands as hardwareCommands } from '@kiln/hardware/cli';
import { registerCommands as provisioningCommands } from '@kiln/provisioning/cli';
import { registerCommands as hilCommands } from '@kiln/test/cli';
import { Command } from 'commander';
import type { CliIo } from './main.ts';
import { registerCommands as upCommands } from './up/command.ts';

type Registrar = (program: Command) => void;

/** Packages that own subcommands, in the order of DESIGN.md's pipeline. */
const REGISTRARS: readonly Registrar[] = [
  hardwareCommands,
  flasherCommands,
  provisioningCommands,
  gatewayCommands,
  hilCommands,
  // `kiln up` integrates every package, so it lives here rather than in one of them.
  upCommands,
];

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export function buildProgram(io: CliIo): Command {
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
  for (const register of REGISTRARS) register(program);
  // Subcommands inherit the output routing and the exit override.
  for (const cmd of program.commands) {
    cmd.configureOutput({ writeOut: io.out, writeErr: io.err }).exitOverride().showSuggestionAfterError(true);
  }
  return program;
}
