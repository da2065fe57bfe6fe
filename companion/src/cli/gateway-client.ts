/**
 * How the operator commands (`kiln devices`, `kiln telemetry`) reach a running gateway: its URL
 * (--gateway, KILN_GATEWAY), the API key (--api-key-file, KILN_API_KEY: never a command-line
 * value, which every user of the machine can read), the CA that signed its certificate (--ca,
 * KILN_CA, else the dev CA of a local gateway). Every failure becomes a KilnError that says what
 * to do: the gateway is unreachable, the key was refused, the device does not exist.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ExitCode, KilnError, UsageError } from '@kiln/protocol';
import type { Command } from 'commander';
import { WebSocket } from 'ws';
import { gatewayRequest } from '../client/request.ts';

export const DEFAULT_GATEWAY = 'https://127.0.0.1:8443';
export const STREAM_SUBPROTOCOL = 'kiln.operator.v1';

export interface ConnectionFlags {
  gateway?: string;
  apiKeyFile?: string;
  ca?: string;
}

/** Adds --gateway, --api-key-file and --ca to an operator command. */
export function connectionOptions(cmd: Command): Command {
  return cmd
    .option('--gateway <url>', `the gateway (env KILN_GATEWAY; default ${DEFAULT_GATEWAY})`)
    .option('--api-key-file <path>', 'file holding the operator API key (else env KILN_API_KEY)')
    .option('--ca <path>', "the CA certificate of the gateway's TLS (env KILN_CA; default: a local gateway's dev CA)");
}

export const CONNECTION_HELP = `
Connection: --gateway URL or KILN_GATEWAY (https://host:port; wss://…/v1/device is accepted too),
the API key in KILN_API_KEY or a file given with --api-key-file (never on the command line),
--ca PATH or KILN_CA for a gateway with its own CA (the dev CA of ~/.kiln/gateway is used when it exists).

Exit codes: 0 ok, 2 usage (bad flag, no API key), 6 the gateway refused or failed the request
(unreachable, key refused, no such device), 130 interrupted.`;

/** https://host:port from what the user gave (an https URL, or the device URL wss://host:port/v1/device). */
export function gatewayOrigin(given: string): string {
  let u: URL;
  try {
    u = new URL(given);
  } catch {
    throw new UsageError('BAD_GATEWAY_URL', `--gateway "${given}" is not a URL`, { hint: `e.g. ${DEFAULT_GATEWAY}` });
  }
  const scheme = { 'https:': 'https', 'wss:': 'https', 'http:': 'http', 'ws:': 'http' }[u.protocol];
  if (!scheme) throw new UsageError('BAD_GATEWAY_URL', `--gateway "${given}": use https://host:port`);
  return `${scheme}://${u.host}`;
}

function readKeyFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError('API_KEY_FILE', `cannot read the API key file ${path}: ${(e as Error).message}`);
  }
  return text.trim();
}

function defaultCa(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env.KILN_GATEWAY_DATA_DIR || join(homedir(), '.kiln', 'gateway');
  const file = join(dir, 'dev-ca.pem');
  return existsSync(file) ? file : undefined;
}

export interface GatewayReply {
  status: number;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export class GatewayClient {
  constructor(
    readonly origin: string,
    private readonly apiKey: string,
    private readonly ca: Buffer | undefined,
  ) {}

  /** Resolves the connection from flags and environment; refuses (exit 2) when there is no key. */
  static fromFlags(f: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): GatewayClient {
    const origin = gatewayOrigin(f.gateway ?? (env.KILN_GATEWAY || DEFAULT_GATEWAY));
    const key = f.apiKeyFile ? readKeyFile(f.apiKeyFile) : (env.KILN_API_KEY ?? '').trim();
    if (!key)
      throw new UsageError('NO_API_KEY', 'no API key: the gateway needs one', {
        hint: 'set KILN_API_KEY, or pass --api-key-file PATH (kiln gateway api-key create --scope read makes one)',
      });
    if (!/^[\x21-\x7e]{1,256}$/.test(key))
      throw new UsageError('BAD_API_KEY', 'the API key holds characters no key has', {
        hint: 'check KILN_API_KEY or the key file: one line, as kiln gateway api-key create printed it',
      });
    const caPath = f.ca ?? (env.KILN_CA || defaultCa(env));
    let ca: Buffer | undefined;
    if (caPath) {
      try {
        ca = readFileSync(caPath);
      } catch (e) {
        throw new UsageError('CA_FILE', `cannot read the CA file ${caPath}: ${(e as Error).message}`);
      }
    }
    return new GatewayClient(origin, key, ca);
  }

  #unreachable(e: Error): KilnError {
    const tls = /certificate|self.signed|unable to verify|CERT_/i.test(`${e.message} ${(e as { code?: string }).code}`);
    return new KilnError('GATEWAY_UNREACHABLE', `cannot reach the gateway at ${this.origin}: ${e.message}`, {
      exitCode: ExitCode.SERVER,
      cause: e,
      hint: tls
        ? "the gateway's certificate is not trusted: pass its CA with --ca or KILN_CA (kiln gateway prints where its dev CA is)"
        : 'is the gateway running (kiln gateway), and are --gateway / KILN_GATEWAY right?',
    });
  }

  async request(method: string, path: string, body?: unknown): Promise<GatewayReply> {
    try {
      const r = await gatewayRequest({
        baseUrl: this.origin,
        method,
        path,
        apiKey: this.apiKey,
        ca: this.ca,
        body,
        timeoutMs: 15_000,
      });
      return { status: r.status, headers: r.headers, body: r.json };
    } catch (e) {
      throw this.#unreachable(e as Error);
    }
  }

  /** The body of a 2xx answer; anything else becomes an error that says what to do. */
  async call<T>(method: string, path: string, body?: unknown, what?: { deviceId?: string }): Promise<T> {
    const r = await this.request(method, path, body);
    if (r.status >= 200 && r.status < 300) return r.body as T;
    throw refusal(r, what?.deviceId);
  }

  /** Opens the operator stream (bearer auth in the upgrade; nothing in the URL). */
  openStream(): Promise<WebSocket> {
    const url = `${this.origin.replace(/^http/, 'ws')}/api/v1/stream`;
    const ws = new WebSocket(url, [STREAM_SUBPROTOCOL], {
      headers: { authorization: `Bearer ${this.apiKey}` },
      ...(this.ca ? { ca: this.ca } : {}),
      handshakeTimeout: 15_000,
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          let code: string | undefined;
          try {
            code = (JSON.parse(Buffer.concat(parts).toString('utf8')) as { code?: string }).code;
          } catch {}
          ws.terminate();
          reject(
            refusal({ status: res.statusCode ?? 0, headers: res.headers, body: { error: { code, message: code } } }),
          );
        });
      });
      ws.once('error', (e) => reject(this.#unreachable(e)));
    });
  }
}

/** A gateway's refusal as the operator should read it. */
export function refusal(r: GatewayReply, deviceId?: string): KilnError {
  const err = (r.body as { error?: { code?: string; message?: string; hint?: string } } | undefined)?.error;
  const message = err?.message ?? `HTTP ${r.status}`;
  const opts = (hint?: string) => ({ exitCode: ExitCode.SERVER, ...(hint ? { hint } : {}) });
  switch (r.status) {
    case 401:
      return new KilnError(
        'API_KEY_REFUSED',
        'the API key was refused: check KILN_API_KEY',
        opts('or the file given with --api-key-file; a revoked key stays refused (kiln gateway api-key list)'),
      );
    case 403:
      return new KilnError(
        'FORBIDDEN',
        `the gateway refused: ${message}`,
        opts('use a key with that scope (kiln gateway api-key create --scope …)'),
      );
    case 404:
      return deviceId
        ? new KilnError(
            'NO_SUCH_DEVICE',
            `no device ${deviceId} at the gateway`,
            opts('kiln devices list shows the registered devices'),
          )
        : new KilnError(
            'NOT_FOUND',
            `the gateway answered 404: ${message}`,
            opts('is --gateway a Kiln gateway of this version?'),
          );
    case 429: {
      const after = r.headers['retry-after'];
      return new KilnError(
        'RATE_LIMITED',
        `the gateway asks to slow down: ${message}`,
        opts(after ? `retry in ${after} s` : undefined),
      );
    }
    default:
      return new KilnError(
        err?.code ?? `HTTP_${r.status}`,
        `the gateway refused the request: ${message}`,
        opts(err?.hint ?? (r.status >= 500 ? "see the gateway's log" : undefined)),
      );
  }
}
