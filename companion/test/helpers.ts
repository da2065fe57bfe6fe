/** Test helpers: a real gateway on 127.0.0.1:0 with real TLS, SQLite in a temp dir, real aedes. */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceSubprotocols, type GatewayMessage, signDeviceToken } from '@kiln/protocol';
import Database from 'better-sqlite3';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { type ConfigInput, resolveConfig } from '../src/config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { startEmbeddedBroker } from '../src/mqtt/broker.ts';
import { DB_FILE, Store } from '../src/store/index.ts';

export const silent = pino({ level: 'silent' });

export function tempDir(prefix = 'kiln-gw-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Overwrites the root page of `table` in `dir`'s database with garbage, after folding the WAL into the file. */
export function damageTable(dir: string, table: string): void {
  const file = join(dir, DB_FILE);
  const db = new Database(file);
  db.pragma('journal_mode = DELETE');
  const { rootpage } = db.prepare('SELECT rootpage FROM sqlite_schema WHERE name = ?').get(table) as {
    rootpage: number;
  };
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.close();
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (rootpage - 1) * pageSize);
  closeSync(fd);
}

/** What a test leaves to undo; `runCleanups` in an afterEach undoes it, last first. */
export type Cleanups = (() => Promise<void> | void)[];

export async function runCleanups(cleanups: Cleanups): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

/** A Store on a new temporary data directory, closed and removed through `cleanups`. */
export function tempStore(cleanups: Cleanups): { store: Store; dir: string } {
  const t = tempDir();
  const store = Store.open(t.dir);
  cleanups.push(() => t.remove());
  cleanups.push(() => store.close());
  return { store, dir: t.dir };
}

/** The embedded MQTT broker on loopback (any port) with a temporary store, closed through `cleanups`. */
export async function tempBroker(cleanups: Cleanups, opts: { maxClients?: number; maxClientsPerIp?: number } = {}) {
  const { store } = tempStore(cleanups);
  const broker = await startEmbeddedBroker({
    apiKeys: store.apiKeys,
    log: silent,
    listen: { host: '127.0.0.1', port: 0 },
    authFailuresPerMinPerIp: 100,
    ...opts,
  });
  cleanups.push(() => broker.close());
  return { broker, store };
}

export function testConfig(dataDir: string, over: ConfigInput = {}) {
  return resolveConfig(
    {
      dataDir,
      listen: { host: '127.0.0.1', port: 0 },
      mqtt: { listen: { host: '127.0.0.1', port: 0 } },
      instanceId: `t${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      ingest: { flushMs: 2, maxBatchRows: 2000 },
    },
    over,
  );
}

export async function startTestGateway(over: ConfigInput = {}, dataDir?: string) {
  const tmp = dataDir ? undefined : tempDir();
  const gw = await startGateway(testConfig(dataDir ?? (tmp as { dir: string }).dir, over), { log: silent });
  return {
    gw,
    ca: gw.caPath ? readFileSync(gw.caPath) : undefined,
    async stop() {
      await gw.close();
      tmp?.remove();
    },
  };
}

export async function deviceKeys(): Promise<{ priv: JWK; pub: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { priv: await exportJWK(privateKey), pub: await exportJWK(publicKey) };
}

export async function registerDevice(gw: Gateway, id: string) {
  const keys = await deviceKeys();
  gw.store.devices.register(id, keys.pub);
  return keys;
}

/** A newly registered device, connected and past its welcome; the caller closes it. */
export async function onlineDevice(gw: Gateway, ca: Buffer | undefined, id: string): Promise<TestDevice> {
  const keys = await registerDevice(gw, id);
  const d = await TestDevice.connect(gw, ca, id, keys.priv);
  d.hello(id);
  await d.next('welcome');
  return d;
}

export interface ApiReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

export function api(
  gw: Gateway,
  ca: Buffer | undefined,
  method: string,
  path: string,
  opts: { key?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<ApiReply> {
  const url = new URL(path, gw.baseUrl);
  const data = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  if (data !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(data));
  }
  const fn = url.protocol === 'https:' ? request : httpRequest;
  return new Promise((resolve, reject) => {
    const req = fn(url, { method, headers, ...(ca ? { ca } : {}), agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
      });
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/** The message of type T in M; M itself where M does not list its types (operator stream frames). */
type MessageOfType<M extends { type: string }, T extends string> = [Extract<M, { type: T }>] extends [never]
  ? M
  : Extract<M, { type: T }>;

/**
 * A WebSocket client whose JSON messages queue up in `inbox` until a test takes them,
 * in any order: the device client and the operator stream client are both one.
 */
export class WebSocketInbox<M extends { type: string }> {
  readonly inbox: M[] = [];
  closeCode: number | undefined;
  #waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      this.inbox.push(JSON.parse(String(d)) as M);
      this.#wake();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.#wake();
    });
  }

  /** Takes the first queued message of this type (that `match` accepts), waiting for one if need be. */
  async next<T extends M['type']>(
    type: T,
    timeoutMs = 5000,
    match: (m: MessageOfType<M, T>) => boolean = () => true,
  ): Promise<MessageOfType<M, T>> {
    const deadline = Date.now() + timeoutMs;
    const wanted = (m: M): m is MessageOfType<M, T> => m.type === type && match(m as MessageOfType<M, T>);
    for (;;) {
      const i = this.inbox.findIndex(wanted);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as MessageOfType<M, T>;
      if (this.closeCode !== undefined) throw new Error(`closed with ${this.closeCode} while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} within ${timeoutMs} ms (inbox: ${JSON.stringify(this.inbox)})`);
      await this.#arrival(left);
    }
  }

  /** The close code, once the connection has closed. */
  async closed(timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.closeCode === undefined) {
      if (Date.now() > deadline) throw new Error('not closed in time');
      await this.#arrival(50);
    }
    return this.closeCode;
  }

  close(): void {
    this.ws.terminate();
  }

  /** Resolves on the next message or close, or after `ms`. */
  #arrival(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      this.#waiters.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

/** A device client: real TLS, the kiln.v1 handshake, a queue of received messages. */
export class TestDevice extends WebSocketInbox<GatewayMessage> {
  seq = 0;

  static async connect(
    gw: Gateway,
    ca: Buffer | undefined,
    deviceId: string,
    priv: JWK,
    opts: { token?: string; headers?: Record<string, string>; path?: string } = {},
  ): Promise<TestDevice> {
    const token = opts.token ?? (await signDeviceToken(priv, { deviceId, audience: gw.audiences[0] as string }));
    const ws = new WebSocket(`${gw.deviceUrl}${opts.path ?? ''}`, deviceSubprotocols(token), {
      ...(ca ? { ca } : {}),
      headers: opts.headers ?? {},
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, res })),
      );
      ws.once('error', reject);
    });
    return new TestDevice(ws);
  }

  send(msg: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ seq: this.seq++, ...msg }));
  }

  hello(deviceId: string, bootId = 'b00710aa'): void {
    this.send({
      type: 'hello',
      deviceId,
      bootId,
      firmware: { name: 'kiln-fw', version: '1.0.0' },
      chip: 'esp32',
      mac: 'aa:bb:cc:dd:ee:ff',
    });
  }
}

/** Expects a refused WebSocket handshake (device or operator stream); answers the HTTP status, the JSON code and the protocol header. */
export async function refusedHandshake(
  url: string,
  protocols: string[],
  ca: Buffer | undefined,
  headers: Record<string, string> = {},
  origin?: string,
): Promise<{ status: number; code: string | undefined; protocolHeader: string | undefined }> {
  const ws = new WebSocket(url, protocols, { ...(ca ? { ca } : {}), headers, ...(origin ? { origin } : {}) });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the handshake was accepted'));
    });
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(Buffer.concat(chunks).toString()) as { code: string }).code;
        } catch {}
        resolve({
          status: res.statusCode ?? 0,
          code,
          protocolHeader: res.headers['sec-websocket-protocol'] as string | undefined,
        });
        ws.terminate();
      });
    });
    ws.once('error', (e) => reject(e));
  });
}

/**
 * Samples in telemetry (main), in telemetry_recent (recent) and still waiting in
 * telemetry_inbox (inbox: not folded yet), on any connection.
 */
export const telemetryTableCounts = (db: { prepare(sql: string): { get(): unknown } }) =>
  db
    .prepare(
      `SELECT (SELECT count(*) FROM telemetry) AS main, (SELECT count(*) FROM telemetry_recent) AS recent,
              (SELECT count(*) FROM telemetry_waiting) AS inbox`,
    )
    .get() as { main: number; recent: number; inbox: number };

/** Every stored sample's (device, boot, seq), from all three telemetry tables: once each if exactly once. */
export const ALL_SAMPLES_SQL = `SELECT device_id, boot_id, seq FROM telemetry
  UNION ALL SELECT device_id, boot_id, seq FROM telemetry_recent
  UNION ALL SELECT device_id, boot_id, seq FROM telemetry_waiting`;
