/**
 * The operator stream `wss://…/api/v1/stream` (subprotocol kiln.operator.v1): live telemetry,
 * device status and command events for the dashboard and `kiln telemetry tail`. Like the device
 * endpoint, ws runs with noServer and the HTTP upgrade is checked first, as named steps whose
 * failures are answered with an HTTP status before a WebSocket exists: the path has no query
 * (no token in the URL), the Origin is allowed, the per-IP auth-failure limit, the subprotocol
 * is offered (and is the only one ever selected), capacity, credentials (bearer key or session
 * cookie; scope read is enough), then the per-key/session connection limit.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../log.ts';
import type { FixedWindowLimiter } from '../util/rate-limit.ts';
import { answerRefusal, destroyOnError, type UpgradeRefusal } from '../util/upgrade-refusal.ts';
import type { Ended, OperatorAuth, Principal } from './auth.ts';
import type { OperatorEvent, OperatorFeed } from './feed.ts';
import type { OperatorMetrics } from './metrics.ts';
import { STREAM_CLOSE, StreamConnection } from './stream-connection.ts';

export const STREAM_PATH = '/api/v1/stream';
export const OPERATOR_SUBPROTOCOL = 'kiln.operator.v1';
/** Inbound frames are subscriptions: small. */
export const STREAM_MAX_PAYLOAD = 4096;

export interface StreamLimits {
  streamConnections: number;
  streamConnectionsPerPrincipal: number;
  streamTelemetryCutoffBytes: number;
  streamSendQueueBytes: number;
  pingSec: number;
}

/** Whether an upgrade request is for the operator stream (the rest go to the device endpoint). */
export function isStreamUpgrade(req: IncomingMessage): boolean {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return (q < 0 ? url : url.slice(0, q)) === STREAM_PATH;
}

export class OperatorStream {
  readonly wss: WebSocketServer;
  readonly #conns = new Set<StreamConnection>();
  readonly #perPrincipal = new Map<string, number>();
  readonly #pinger: NodeJS.Timeout;
  #feed: OperatorFeed | undefined;
  #closing = false;

  constructor(
    private readonly deps: {
      auth: OperatorAuth;
      metrics: OperatorMetrics;
      log: Logger;
      limits: StreamLimits;
      /** Shared with REST: failed credentials per IP. */
      authFailures: FixedWindowLimiter;
    },
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: STREAM_MAX_PAYLOAD,
      perMessageDeflate: false,
      // Only ever ours: never echo another offer (the handshake is refused before this without it).
      handleProtocols: (offered) => (offered.has(OPERATOR_SUBPROTOCOL) ? OPERATOR_SUBPROTOCOL : false),
    });
    this.#pinger = setInterval(() => this.#pingAll(), deps.limits.pingSec * 1000);
    this.#pinger.unref();
    deps.auth.onEnded((e) => this.#credentialsEnded(e));
  }

  /** The feed events come from (set once the bus is up). */
  attach(feed: OperatorFeed): void {
    this.#feed = feed;
  }

  get size(): number {
    return this.#conns.size;
  }

  /** Telemetry waiting for slow readers, over all connections. */
  get queuedBytes(): number {
    let n = 0;
    for (const c of this.#conns) n += c.queuedBytes;
    return n;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    destroyOnError(socket);
    let r: UpgradeRefusal | { principal: Principal };
    try {
      r = this.#authorize(req);
    } catch (err) {
      this.deps.log.error({ err, req }, 'operator stream handshake failed');
      r = { status: 503, reason: 'INTERNAL' };
    }
    if ('status' in r) {
      this.#refuse(req, socket, r);
      return;
    }
    const { principal } = r;
    // ws completes a valid upgrade synchronously, so the limits are counted before another handshake runs.
    this.wss.handleUpgrade(req, socket, head, (ws) => this.#open(ws, principal));
  }

  #authorize(req: IncomingMessage): UpgradeRefusal | { principal: Principal } {
    const { auth, limits, authFailures } = this.deps;
    if ((req.url ?? '') !== STREAM_PATH) return { status: 400, reason: 'TOKEN_IN_URL' };
    const ip = req.socket.remoteAddress ?? 'unknown';
    const gate = authFailures.hit(ip, 0);
    if (!gate.allowed) return { status: 429, reason: 'AUTH_RATE_LIMITED', retryAfterSec: gate.retryAfterSec };
    const origin = req.headers.origin;
    // A browser always sends Origin, and with the cookie it must be ours (cross-site WebSocket
    // hijacking); a client with a bearer key (a browser cannot set one) may omit it.
    const cookieOnly = req.headers.authorization === undefined && req.headers.cookie !== undefined;
    if (origin === undefined ? cookieOnly : !auth.originAllowed(origin))
      return { status: 403, reason: 'ORIGIN_NOT_ALLOWED' };
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(OPERATOR_SUBPROTOCOL)) return { status: 400, reason: 'SUBPROTOCOL_REQUIRED' };
    if (this.#closing || this.#conns.size >= limits.streamConnections)
      return { status: 503, reason: 'AT_CAPACITY', retryAfterSec: 5 };
    const a = auth.authenticate(req.headers);
    if (!a.ok) {
      authFailures.hit(ip);
      return { status: 401, reason: 'UNAUTHENTICATED' };
    }
    const p = a.principal;
    if ((this.#perPrincipal.get(p.id) ?? 0) >= limits.streamConnectionsPerPrincipal)
      return { status: 429, reason: 'TOO_MANY_STREAMS', retryAfterSec: 5 };
    return { principal: p };
  }

  #refuse(req: IncomingMessage, socket: Duplex, r: UpgradeRefusal): void {
    this.deps.metrics.streamRefused.inc({ reason: r.reason });
    this.deps.log.info({ req, ...r }, 'operator stream handshake refused');
    answerRefusal(socket, r);
  }

  #count(principalId: string, delta: number): void {
    const n = (this.#perPrincipal.get(principalId) ?? 0) + delta;
    if (n <= 0) this.#perPrincipal.delete(principalId);
    else this.#perPrincipal.set(principalId, n);
  }

  #open(ws: WebSocket, principal: Principal): void {
    const { metrics, limits, log } = this.deps;
    const conn = new StreamConnection(
      ws,
      principal,
      { telemetryCutoffBytes: limits.streamTelemetryCutoffBytes, sendQueueBytes: limits.streamSendQueueBytes },
      metrics,
      () => this.#telemetryInterest(),
    );
    this.#conns.add(conn);
    this.#count(principal.id, +1);
    metrics.streamConnections.set(this.#conns.size);
    ws.on('message', (data, isBinary) => conn.receive(data as Buffer, isBinary));
    ws.on('error', (err) => log.debug({ err }, 'operator stream socket error'));
    ws.on('close', (code) => {
      conn.detach();
      this.#conns.delete(conn);
      this.#count(principal.id, -1);
      metrics.streamConnections.set(this.#conns.size);
      metrics.streamCloses.inc({ code: String(code) });
      void this.#telemetryInterest();
    });
    if (this.#closing) conn.close(STREAM_CLOSE.GOING_AWAY, 'gateway shutdown');
    else conn.hello();
  }

  /** Fans one event out; its JSON is made once and shared by every connection that takes it whole. */
  dispatch(e: OperatorEvent): void {
    if (this.#conns.size === 0) return;
    let text: string | undefined;
    const shared = () => {
      text ??= JSON.stringify(e);
      return text;
    };
    for (const c of this.#conns) c.deliver(e, shared);
  }

  #telemetryInterest(): Promise<void> {
    let want = false;
    for (const c of this.#conns) {
      if (!c.closed && c.wantsTelemetry) {
        want = true;
        break;
      }
    }
    return this.#feed?.wantTelemetry(want) ?? Promise.resolve();
  }

  #credentialsEnded(e: Ended): void {
    for (const c of this.#conns) {
      const p = c.principal;
      if ('keyId' in e ? p.key.id === e.keyId : p.kind === 'session' && p.session.id === e.sessionId)
        c.close(STREAM_CLOSE.CREDENTIALS_ENDED, 'credentials ended');
    }
  }

  /** Dead-peer detection and, at the same beat, a re-check of each connection's credentials. */
  #pingAll(): void {
    for (const c of this.#conns) {
      if (c.closed) continue;
      if (!c.alive) {
        this.deps.metrics.streamCloses.inc({ code: 'dead-peer' });
        c.ws.terminate();
        continue;
      }
      if (!this.deps.auth.stillValid(c.principal)) {
        c.close(STREAM_CLOSE.CREDENTIALS_ENDED, 'credentials ended');
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#pinger);
    for (const c of this.#conns) c.close(STREAM_CLOSE.GOING_AWAY, 'gateway shutdown');
    // Let the close frames go out; then whatever is left is cut.
    for (let waited = 0; this.#conns.size > 0 && waited < 1000; waited += 20)
      await new Promise((r) => setTimeout(r, 20));
    for (const c of this.#conns) c.ws.terminate();
    this.wss.close();
  }
}
