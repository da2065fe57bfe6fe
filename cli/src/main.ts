/**
 * The `kiln` entry point: builds the command tree, runs it, and turns every
 * outcome into one of the documented exit codes (protocol/src/exit-codes.ts).
 */

import { ExitCode } from '@kiln/protocol';
import { CommanderError } from 'commander';
import { buildProgram } from './program.ts';
import { describeError } from './report-error.ts';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdio: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

export async function main(argv: readonly string[], io: CliIo = stdio): Promise<number> {
  const program = await buildProgram(io, argv);
  try {
    await program.parseAsync([...argv]);
    return ExitCode.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version end with code 0; every parse error is a usage error.
      return e.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    const { text, exitCode } = describeError(e);
    io.err(text);
    return exitCode;
  }
}
