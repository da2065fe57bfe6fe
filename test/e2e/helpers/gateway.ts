/**
 * A minimal kiln.v1 gateway for end-to-end tests: node https + ws, device JWTs
 * checked with checkDeviceToken (jose), a self-signed CA made with the openssl CLI.
 * Stores telemetry by (bootId, seq) and acknowledges it, or withholds acks on demand.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDeviceToken, parseOfferedSubprotocols, peekIssuer, SUBPROTOCOL, validateMessage } from '@kiln/protocol';
import type { JWK } from 'jose';
import { type WebSocket, WebSocketServer } from 'ws';

export interface TestPki {
  dir: string;
  caPem: string;
  key: string;
  cert: string;
}

/** A CA and a server certificate for 127.0.0.1, in a temp dir (remove with cleanupPki). */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-pki-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Kiln test CA');
  run('req', ...ec, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  run(
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'srv.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  );
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { dir, caPem: read('ca.pem'), key: read('srv.key'), cert: read('srv.pem') };
}

export function cleanupPki(pki: TestPki | undefined): void {
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
}

export interface Receipt {
  seq: number;
  afterAck: boolean;
}

export class TestGateway {
  readonly keys = new Map<string, JWK>();
  readonly stored = new Set<string>();
  readonly receipts: Receipt[] = [];
  readonly rejected: string[] = [];
  readonly invalid: string[] = [];
  hellos = 0;
  ackMode: 'ack' | 'withhold' = 'ack';
  port = 0;
  private readonly acked = new Set<string>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly sockets = new Map<WebSocket, string>();
  private seq = 0;

  constructor(private readonly pki: TestPki) {}

  get audience(): string {
    return `wss://127.0.0.1:${this.port}`;
  }

  async start(port = this.port): Promise<void> {
    const server = createServer({ key: this.pki.key, cert: this.pki.cert });
    const wss = new WebSocketServer({
      server,
      path: '/v1/device',
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
      verifyClient: (info, done) => {
        const offered = String(info.req.headers['sec-websocket-protocol'] ?? '').split(',');
        const parsed = parseOfferedSubprotocols(offered);
        const iss = parsed.ok ? peekIssuer(parsed.token) : undefined;
        const key = iss ? this.keys.get(iss) : undefined;
        if (!parsed.ok || !key) {
          this.rejected.push(parsed.ok ? 'UNKNOWN_DEVICE' : parsed.reason);
          done(false, 401);
          return;
        }
        checkDeviceToken(parsed.token, { key, audience: this.audience }).then(
          (r) => {
            if (!r.ok) this.rejected.push(r.code);
            done(r.ok, r.ok ? undefined : 401);
          },
          () => done(false, 500),
        );
      },
    });
    wss.on('connection', (ws) => {
      ws.on('message', (raw) => this.onMessage(ws, raw.toString('utf8')));
      ws.on('close', () => this.sockets.delete(ws));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : port;
    this.server = server;
    this.wss = wss;
  }

  private send(ws: WebSocket, msg: Record<string, unknown>): void {
    ws.send(JSON.stringify({ ...msg, seq: this.seq++ }));
  }

  private onMessage(ws: WebSocket, text: string): void {
    const v = validateMessage(text, 'device');
    if (!v.ok) {
      this.invalid.push(`${v.error.code} at ${v.error.path}: ${text}`);
      return;
    }
    const m = v.message as unknown as Record<string, unknown>;
    if (m.type === 'hello') {
      this.hellos++;
      this.sockets.set(ws, `${String(m.deviceId)}/${String(m.bootId)}`);
      this.send(ws, { type: 'welcome', serverTime: Date.now(), heartbeatSec: 5, telemetrySec: 1, maxBatch: 8 });
      return;
    }
    const boot = this.sockets.get(ws) ?? '?';
    const samples =
      m.type === 'telemetry'
        ? [m.seq as number]
        : m.type === 'telemetry_batch'
          ? (m.samples as { seq: number }[]).map((s) => s.seq)
          : [];
    const ack: number[] = [];
    for (const seq of samples) {
      const id = `${boot}/${seq}`;
      this.receipts.push({ seq, afterAck: this.acked.has(id) });
      if (this.ackMode === 'ack') {
        this.stored.add(id);
        this.acked.add(id);
        ack.push(seq);
      }
    }
    if (ack.length > 0) this.send(ws, { type: 'ack', acked: ack });
  }

  /** Closes every session of the device with 4003 (revoked). */
  revoke(deviceId: string): void {
    this.keys.delete(deviceId);
    for (const [ws, id] of this.sockets) if (id.startsWith(`${deviceId}/`)) ws.close(4003, 'revoked');
  }

  /** Stops abruptly: connections are dropped without a close frame, as when the process dies. */
  async stop(): Promise<void> {
    for (const ws of this.sockets.keys()) ws.terminate();
    this.sockets.clear();
    await new Promise<void>((r) => (this.wss ? this.wss.close(() => r()) : r()));
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections();
    this.server = undefined;
    this.wss = undefined;
  }
}
