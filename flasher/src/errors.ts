/**
 * The flasher's coded errors (protocol's KilnError family). Each says what went
 * wrong in the user's terms and what to do next; the exit code tells scripts whose
 * fault it is (docs/EXIT-CODES.md): the port (3), the device (4), verification (5),
 * or the input (2, UsageError).
 */
import { ExitCode, KilnError } from '@kiln/protocol';

export { UsageError } from '@kiln/protocol';

/** The port cannot be used: not found, busy, no permission, unreachable, lost. */
export class PortError extends KilnError {
  constructor(code: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, { ...options, exitCode: ExitCode.PORT });
  }
}

/** The device did not answer, or answered with an error. */
export class DeviceError extends KilnError {
  constructor(code: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, { ...options, exitCode: ExitCode.DEVICE });
  }
}

/** What was read back does not match what was written. */
export class VerifyError extends KilnError {
  constructor(code: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, { ...options, exitCode: ExitCode.VERIFY });
  }
}

/** Maps an operating-system error on opening a local port to a PortError. */
export function portOpenError(port: string, e: unknown): PortError {
  const message = e instanceof Error ? e.message : String(e);
  if (/ENOENT|No such file|File not found|cannot find|does not exist/i.test(message)) {
    return new PortError('PORT_NOT_FOUND', `port ${port} does not exist`, {
      hint: "run 'kiln ports' to list the serial ports; check the cable and that the board is powered",
      cause: e,
    });
  }
  if (/EACCES|Permission denied|Access denied/i.test(message)) {
    return new PortError('PORT_PERMISSION', `no permission to open ${port}`, {
      hint: "add yourself to the port's group (usually 'dialout': sudo usermod -aG dialout $USER), then log in again",
      cause: e,
    });
  }
  if (/EBUSY|busy|lock|in use/i.test(message)) {
    return new PortError('PORT_BUSY', `port ${port} is busy`, {
      hint: 'close the other program using it (a serial monitor, another kiln or idf.py), then try again',
      cause: e,
    });
  }
  if (/baud/i.test(message)) {
    return new PortError('PORT_BAUD_UNSUPPORTED', `the adapter on ${port} refused the baud rate`, {
      hint: 'try a lower --baud, e.g. 460800 or 115200',
      cause: e,
    });
  }
  return new PortError('PORT_OPEN_FAILED', `cannot open ${port}: ${message}`, {
    hint: "check the port name with 'kiln ports'",
    cause: e,
  });
}

/** Maps a TCP connection error (rfc2217://, socket://) to a PortError. */
export function networkError(port: string, e: unknown): PortError {
  const code = (e as { code?: string } | undefined)?.code;
  const message = e instanceof Error ? e.message : String(e);
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT') {
    return new PortError('PORT_UNREACHABLE', `cannot reach ${port} (${code})`, {
      hint: 'check the host and port, and that the RFC 2217 server (or kiln board) is running',
      cause: e,
    });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new PortError('PORT_UNREACHABLE', `cannot resolve the host of ${port}`, {
      hint: 'check the host name in the URL',
      cause: e,
    });
  }
  return new PortError('PORT_UNREACHABLE', `cannot connect to ${port}: ${message}`, {
    hint: 'check the URL and the server',
    cause: e,
  });
}
