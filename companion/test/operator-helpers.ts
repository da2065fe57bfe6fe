/** Test helpers for the operator side: sign-in over real HTTPS, and a real operator stream client. */
import { WebSocket } from 'ws';
import type { Gateway } from '../src/gateway.ts';
import { api } from './helpers.ts';

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
export class StreamClient {
  readonly inbox: StreamFrame[] = [];
  closeCode: number | undefined;
  #waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      this.inbox.push(JSON.parse(String(d)) as StreamFrame);
      this.#wake();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.#wake();
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

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

  async next(type: string, timeoutMs = 5000, match: (f: StreamFrame) => boolean = () => true): Promise<StreamFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((f) => f.type === type && match(f));
      if (i >= 0) return this.inbox.splice(i, 1)[0] as StreamFrame;
      if (this.closeCode !== undefined) throw new Error(`closed with ${this.closeCode} while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} frame within ${timeoutMs} ms (inbox: ${JSON.stringify(this.inbox)})`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async closed(timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.closeCode === undefined) {
      if (Date.now() > deadline) throw new Error('not closed in time');
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.closeCode;
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Expects the stream handshake to be refused; answers the HTTP status, the JSON code and the protocol header. */
export function refusedStream(
  gw: Gateway,
  ca: Buffer | undefined,
  opts: { headers?: Record<string, string>; protocols?: string[]; path?: string; origin?: string } = {},
): Promise<{ status: number; code: string | undefined }> {
  const url = `${StreamClient.url(gw)}${opts.path ?? ''}`;
  const ws = new WebSocket(url, opts.protocols ?? [STREAM_PROTOCOL], {
    ...(ca ? { ca } : {}),
    headers: opts.headers ?? {},
    ...(opts.origin ? { origin: opts.origin } : {}),
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the stream handshake was accepted'));
    });
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(Buffer.concat(chunks).toString()) as { code: string }).code;
        } catch {}
        resolve({ status: res.statusCode ?? 0, code });
        ws.terminate();
      });
    });
    ws.once('error', reject);
  });
}
