/** Test helpers for the operator side: sign-in over real HTTPS, and a real operator stream client. */
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
