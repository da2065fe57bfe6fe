/** How a failed command reads on a terminal: what happened, then what to do next. */
import { ExitCode, KilnError } from '@kiln/protocol';

export function describeError(e: unknown): { text: string; exitCode: number } {
  if (e instanceof KilnError) {
    const hint = e.hint ? `\n  ${e.hint}` : '';
    return { text: `kiln: ${e.message} [${e.code}]${hint}\n`, exitCode: e.exitCode };
  }
  const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
  return {
    text: `kiln: internal error, this is a bug in Kiln; please report it with this output:\n${detail}\n`,
    exitCode: ExitCode.INTERNAL,
  };
}
