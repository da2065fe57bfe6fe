/**
 * Exit codes of every `kiln` command. Stable: scripts and CI jobs branch on them.
 * Documented in docs/EXIT-CODES.md; change both together.
 */
export const ExitCode = {
  /** Done, and verified where verification applies. */
  OK: 0,
  /** An unexpected failure inside Kiln (a bug: please report it with the output). */
  INTERNAL: 1,
  /** Bad command line, flag, argument or input file. Nothing was changed. */
  USAGE: 2,
  /** The port cannot be used: not found, busy, no permission, unreachable. */
  PORT: 3,
  /** The device did not answer, or answered with an error. */
  DEVICE: 4,
  /** Data read back from the device does not match what was written. */
  VERIFY: 5,
  /** The gateway or another server refused or failed the request. */
  SERVER: 6,
  /** Tests ran and at least one failed (`kiln hil`). */
  TESTS_FAILED: 7,
  /** Stopped by Ctrl+C or SIGTERM before finishing. */
  INTERRUPTED: 130,
} as const;
export type ExitCodeName = keyof typeof ExitCode;
