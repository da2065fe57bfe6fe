/**
 * The gateway's coded errors. REST answers carry `code`; the CLI maps exitCode.
 * Every code is listed in GATEWAY_ERROR_CODES so the OpenAPI document and the
 * fuzz tests can check that a reply is a documented one.
 */
// The two modules, not the package's index: the store's worker threads load this, and the
// index (schemas, JWT, formats) took 130 ms of each thread's start.
import { KilnError } from '@kiln/protocol/errors';
import { ExitCode } from '@kiln/protocol/exit-codes';

export const GATEWAY_ERROR_CODES = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  CSRF: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  DEVICE_REVOKED: 409,
  ORIGIN_NOT_ALLOWED: 403,
  RATE_LIMITED: 429,
  DEVICE_BUSY: 429,
  INTERNAL: 500,
} as const;
export type GatewayErrorCode = keyof typeof GATEWAY_ERROR_CODES;

/** An error a REST client or an operator can act on: a stable code, an HTTP status, a hint. */
export class GatewayError extends KilnError {
  readonly status: number;
  constructor(code: GatewayErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, { ...options, exitCode: ExitCode.SERVER });
    this.status = GATEWAY_ERROR_CODES[code];
  }
}

/** Configuration that cannot run: refused at start-up, before anything listens. */
export class ConfigError extends KilnError {
  constructor(code: string, message: string, hint?: string) {
    super(code, message, { exitCode: ExitCode.USAGE, ...(hint === undefined ? {} : { hint }) });
  }
}

/** The database is damaged or unusable. */
export class StoreError extends KilnError {
  constructor(
    code: 'STORE_CORRUPT' | 'STORE_MIGRATION' | 'STORE_BACKUP' | 'STORE_WRITE',
    message: string,
    hint?: string,
  ) {
    super(code, message, { exitCode: ExitCode.SERVER, ...(hint === undefined ? {} : { hint }) });
  }
}
