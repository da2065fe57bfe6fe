/** Test helpers for the operator side: sign-in over real HTTPS, and a real operator stream client. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import type { Gateway } from '../src/gateway.ts';
import { api, refusedHandshake, WebSocketInbox } from './helpers.ts';

export const STREAM_PROTOCOL = 'kiln.operator.v1';

export interface SignedIn {
  cookie: string;
  /** The whole Set-Cookie header, for its attributes. */
  setCookie: string;
  csrfToken: string;
  body: Record<string, unknown>;
}

export async function signIn(gw: Gateway, ca: Buffer | undefined, apiKey: string): Promise<SignedIn> {
  const r = await api(gw, ca, 'POST', '/api/v1/session', { body: { apiKey } });
  if (r.status !== 200) throw new Error(`sign-in answered ${r.status}: ${r.text}`);
  const setCookie = String((r.headers['set-cookie'] as string[] | undefined)?.[0]);
  const cookie = setCookie.split(';')[0] as string;
  const body = r.body as Record<string, unknown>;
  return { cookie, setCookie, csrfToken: body.csrfToken as string, body };
}

/** The gateway's own origin as a browser on its page sends it. */
export const originOf = (gw: Gateway) => new URL(gw.baseUrl).origin;

export type StreamFrame = { type: string } & Record<string, unknown>;

/** An operator stream client: real TLS, a queue of received frames. */
export class StreamClient extends WebSocketInbox<StreamFrame> {
  static url(gw: Gateway): string {
    return `${gw.baseUrl.replace(/^http/, 'ws')}/api/v1/stream`;
  }

  static async connect(
    gw: Gateway,
    ca: Buffer | undefined,
    opts: { key?: string; cookie?: string; origin?: string; protocols?: string[] },
  ): Promise<StreamClient> {
    const headers: Record<string, string> = {};
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    if (opts.cookie) headers.cookie = opts.cookie;
    const ws = new WebSocket(StreamClient.url(gw), opts.protocols ?? [STREAM_PROTOCOL], {
      ...(ca ? { ca } : {}),
      headers,
      ...(opts.origin ? { origin: opts.origin } : {}),
    });
    const client = new StreamClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })),
      );
      ws.once('error', reject);
    });
    return client;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Subscribes and waits until the gateway confirms it. */
  async subscribe(devices: string[], metrics?: string[]): Promise<StreamFrame> {
    this.send({ type: 'subscribe', devices, ...(metrics ? { metrics } : {}) });
    return this.next('subscribed');
  }
}

/** Expects the stream handshake to be refused; answers the HTTP status and the JSON code. */
export async function refusedStream(
  gw: Gateway,
  ca: Buffer | undefined,
  opts: { headers?: Record<string, string>; protocols?: string[]; path?: string; origin?: string } = {},
): Promise<{ status: number; code: string | undefined }> {
  const url = `${StreamClient.url(gw)}${opts.path ?? ''}`;
  const { status, code } = await refusedHandshake(
    url,
    opts.protocols ?? [STREAM_PROTOCOL],
    ca,
    opts.headers,
    opts.origin,
  );
  return { status, code };
}

const KILN = fileURLToPath(new URL('../../cli/bin/kiln.js', import.meta.url));

export interface KilnRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/**
 * `kiln ARGS` as a child against a test gateway, never spawnSync (the gateway serving it
 * lives in this process). Its environment is built from nothing but PATH, a throwaway HOME
 * and the gateway's URL, key and CA, so a KILN_* variable of whoever runs the tests cannot
 * leak in; `env` adds or (undefined) removes variables.
 */
export function kilnAgainst(
  gw: Pick<Gateway, 'baseUrl' | 'caPath'>,
  home: string,
  apiKey: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; onStart?: (child: ReturnType<typeof spawn>) => void } = {},
): Promise<KilnRun> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    KILN_GATEWAY: gw.baseUrl,
    KILN_API_KEY: apiKey,
    KILN_CA: gw.caPath,
    ...opts.env,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KILN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
    opts.onStart?.(child);
  });
}
