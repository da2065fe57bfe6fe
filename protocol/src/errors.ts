/**
 * Kiln's error base. Every error a user can meet carries a stable string `code`
 * and says what to do next; the CLI maps its exitCode (docs/EXIT-CODES.md) to the
 * process exit. Modelled on jose's coded errors.
 */
import { ExitCode } from './exit-codes.ts';

export class KilnError extends Error {
  readonly code: string;
  /** What the user can do about it, shown under the message. */
  readonly hint: string | undefined;
  /** The `kiln` exit code this error ends a command with (protocol/src/exit-codes.ts). */
  readonly exitCode: number;

  constructor(code: string, message: string, options?: { hint?: string; cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options?.hint;
    this.exitCode = options?.exitCode ?? ExitCode.INTERNAL;
  }
}

/** Bad input from the user: a file, a flag, an argument. Nothing was changed. */
export class UsageError extends KilnError {
  constructor(code: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, { ...options, exitCode: ExitCode.USAGE });
  }
}

/** A frame or message that breaks the contract (serial RPC, Improv, kiln.v1). */
export class ProtocolError extends KilnError {
  /** JSON Pointer of the offending field, for message validation errors. */
  readonly path: string | undefined;

  constructor(code: string, message: string, path?: string) {
    super(code, message, { exitCode: ExitCode.DEVICE });
    this.path = path;
  }
}
