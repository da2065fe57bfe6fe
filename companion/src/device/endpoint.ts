/**
 * The device endpoint `wss://…/v1/device` (SPEC §1.1). ws runs with noServer: the HTTP
 * upgrade is authenticated first, as a series of named steps, and any failure is answered
 * with an HTTP status before a WebSocket exists (counted by reason, logged without the
 * token). handleProtocols always answers `kiln.v1`, so ws never echoes the token offer.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, DEVICE_PATH, parseOfferedSubprotocols, SUBPROTOCOL } from '@kiln/protocol';
import { WebSocketServer } from 'ws';
import { FixedWindowLimiter } from '../util/rate-limit.ts';
import { answerRefusal, destroyOnError, type UpgradeRefusal } from '../util/upgrade-refusal.ts';
import type { DeviceAuthenticator } from './auth.ts';
import type { HubContext } from './context.ts';
import { dispatch } from './handlers/index.ts';
import { releaseFragmentsAfterMessage } from './receiver-fragments.ts';
import { Session } from './session.ts';

export class DeviceEndpoint {
  readonly wss: WebSocketServer;
  readonly authFailures: FixedWindowLimiter;
  #handshakes = 0;

  constructor(
    private readonly ctx: HubContext,
    private readonly auth: DeviceAuthenticator,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: ctx.config.limits.maxPayloadBytes,
      perMessageDeflate: false, // memory fragmentation under load (ws README); devices do not need it
      handleProtocols: () => SUBPROTOCOL,
    });
    this.authFailures = new FixedWindowLimiter(ctx.config.limits.authFailuresPerMinPerIp, 60_000, 50_000);
    if (!releaseFragmentsAfterMessage())
      ctx.log.warn(
        'this ws release changed its Receiver: each device message now survives until a major collection, which come more often (see docs/ARCHITECTURE.md, "Memory and major collections")',
      );
  }

  /** The `upgrade` listener of the HTTP(S) server. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    destroyOnError(socket);
    const startedAt = Date.now();
    this.#authorize(req)
      .then((r) => {
        if ('status' in r) return this.#refuse(req, socket, r);
        if (socket.destroyed) return;
        this.wss.handleUpgrade(req, socket, head, (ws) =>
          this.#open(ws, r.deviceId, req.socket.remoteAddress ?? '', startedAt),
        );
      })
      .catch((err: unknown) => {
        this.ctx.log.error({ err, req }, 'device handshake failed');
        this.#refuse(req, socket, { status: 503, reason: 'INTERNAL' });
      });
  }

  async #authorize(req: IncomingMessage): Promise<UpgradeRefusal | { deviceId: string }> {
    const { limits, wsAllowedOrigins } = this.ctx.config;
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname !== DEVICE_PATH) return { status: 404, reason: 'NOT_FOUND' };
    // SPEC §1.1: a token anywhere in the URL is refused; so is any query (it ends up in access logs).
    if (url.search !== '' || (req.url ?? '').includes('?')) return { status: 400, reason: 'TOKEN_IN_URL' };
    const origin = req.headers.origin;
    if (origin !== undefined && !wsAllowedOrigins.includes(origin))
      return { status: 403, reason: 'ORIGIN_NOT_ALLOWED' };
    const ip = req.socket.remoteAddress ?? 'unknown';
    const gate = this.authFailures.hit(ip, 0);
    if (!gate.allowed) return { status: 429, reason: 'AUTH_RATE_LIMITED', retryAfterSec: gate.retryAfterSec };
    if (this.ctx.sessions.size + this.#handshakes >= limits.maxConnections)
      return { status: 503, reason: 'AT_CAPACITY', retryAfterSec: 5 };
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',');
    const offer = parseOfferedSubprotocols(offered);
    if (!offer.ok) return this.#failed(ip, { status: 401, reason: offer.reason });
    this.#handshakes++;
    try {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), limits.authTimeoutMs);
      });
      const r = await Promise.race([this.auth.authenticate(offer.token), timeout]);
      clearTimeout(timer);
      if (r === 'timeout') return { status: 503, reason: 'AUTH_TIMEOUT', retryAfterSec: 1 };
      if (!r.ok) return this.#failed(ip, { status: r.status, reason: r.reason });
      return { deviceId: r.deviceId };
    } finally {
      this.#handshakes--;
    }
  }

  #failed(ip: string, r: UpgradeRefusal): UpgradeRefusal {
    this.authFailures.hit(ip);
    return r;
  }

  #refuse(req: IncomingMessage, socket: Duplex, r: UpgradeRefusal): void {
    this.ctx.metrics.authFailures.inc({ reason: r.reason });
    this.ctx.log.info(
      {
        req,
        status: r.status,
        reason: r.reason,
      },
      'device handshake refused',
    );
    answerRefusal(socket, r);
  }

  #open(ws: import('ws').WebSocket, deviceId: string, remote: string, startedAt: number): void {
    const { ctx } = this;
    const session = new Session(ws, deviceId, remote, ctx, startedAt);
    ctx.sessions.add(session);
    ws.on('message', (data, isBinary) => {
      try {
        dispatch(ctx, session, data as Buffer, isBinary);
      } catch (err) {
        ctx.log.error({ err, deviceId }, 'message handler failed');
        session.close(CloseCode.INTERNAL_ERROR, 'internal error');
      }
    });
    ws.on('error', (err) => ctx.log.debug({ err, deviceId }, 'device socket error'));
    ws.on('close', (code) => {
      session.detach();
      if (ctx.sessions.remove(session) && session.ready) {
        const now = Date.now();
        ctx.store.devices.markSeen(deviceId, 'offline', {}, now);
        const device = ctx.store.devices.credentials(deviceId);
        // Revoked: its status says so already. Deleted: it has none any more (its retained status was cleared).
        if (device && device.state !== 'revoked')
          ctx.bridge.publishStatus(deviceId, { state: 'offline', since: now, lastSeen: now });
      }
      ctx.log.debug({ deviceId, code }, 'device session closed');
    });
  }

  close(): void {
    this.authFailures.close();
    this.wss.close();
  }
}
