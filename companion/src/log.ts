/**
 * Structured logs (pino). Redaction is declared once here: the subprotocol header (it
 * carries device tokens), authorization headers, API keys, passwords and DSN credentials
 * never reach a log line, whichever call site logs them.
 */
import { redactSubprotocolHeader } from '@kiln/protocol';
import { type Logger, pino } from 'pino';

export type { Logger };

/** `mqtt://user:pass@host` → `mqtt://user:***@host`; also `?password=` style parameters. */
export function redactDsn(dsn: string): string {
  try {
    const u = new URL(dsn);
    if (u.password) u.password = '***';
    for (const k of [...u.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(k)) u.searchParams.set(k, '***');
    }
    return u.toString();
  } catch {
    return dsn.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  }
}

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'headers.authorization',
  'headers["sec-websocket-protocol"]',
  'token',
  'apiKey',
  'key',
  'password',
  'secret',
  '*.token',
  '*.apiKey',
  '*.password',
  '*.secret',
];

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.KILN_LOG_LEVEL ?? 'info',
      base: { svc: 'kiln-gateway' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        // Headers are logged only through this serializer: the token offer is cut out.
        req: (req: { method?: string; url?: string; headers?: Record<string, unknown> }) => ({
          method: req.method,
          url: req.url?.split('?')[0],
          headers: redactHeaders(req.headers ?? {}),
        }),
        dsn: (d: string) => redactDsn(d),
      },
    },
    options.destination ?? process.stderr,
  );
}

export function redactHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase();
    if (name === 'sec-websocket-protocol' && typeof v === 'string') out[k] = redactSubprotocolHeader(v);
    else if (name === 'authorization' || name === 'cookie') out[k] = '[redacted]';
    else out[k] = v;
  }
  return out;
}
