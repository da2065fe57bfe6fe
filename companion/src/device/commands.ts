/**
 * Commands to devices. A command is stored, then offered on the bus (kiln/v1/<id>/cmd);
 * every gateway instance listens there and the one that holds the device's session
 * delivers it. `markSent` is the gate (a conditional UPDATE in the shared store), so a
 * command reaches the device once even when it arrives both directly and from the bus.
 * Open commands past expiresAt become `timeout` (sent) or `expired` (never delivered).
 */
import { randomBytes } from 'node:crypto';
import { type CommandResult, validateValue } from '@kiln/protocol';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Bridge } from '../mqtt/bridge.ts';
import type { CommandRow, Store } from '../store/index.ts';
import type { Session } from './session.ts';
import type { SessionRegistry } from './sessions.ts';

export interface CommandRequest {
  deviceId: string;
  name: string;
  args?: Record<string, unknown>;
  ttlMs?: number;
  actor?: string;
}

export class CommandService {
  readonly #sweeper: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly bridge: Bridge,
    private readonly sessions: SessionRegistry,
    private readonly log: Logger,
    private readonly opts: { defaultTimeoutMs: number; outstandingPerDevice: number },
  ) {
    this.#sweeper = setInterval(() => this.expire(), 1000);
    this.#sweeper.unref();
  }

  create(req: CommandRequest, now = Date.now()): CommandRow {
    const device = this.store.devices.get(req.deviceId);
    if (!device) throw new GatewayError('NOT_FOUND', `no device ${req.deviceId}`);
    if (device.state === 'revoked') throw new GatewayError('DEVICE_REVOKED', `device ${req.deviceId} is revoked`);
    if (this.store.commands.openCount(req.deviceId) >= this.opts.outstandingPerDevice)
      throw new GatewayError(
        'DEVICE_BUSY',
        `device ${req.deviceId} has ${this.opts.outstandingPerDevice} open commands`,
        {
          hint: 'wait for results or for them to expire',
        },
      );
    const id = `c${now.toString(36)}${randomBytes(6).toString('hex')}`;
    const expiresAt = now + (req.ttlMs ?? this.opts.defaultTimeoutMs);
    this.store.commands.insert(
      {
        id,
        deviceId: req.deviceId,
        name: req.name,
        ...(req.args ? { args: req.args } : {}),
        expiresAt,
        ...(req.actor ? { createdBy: req.actor } : {}),
      },
      now,
    );
    const session = this.sessions.get(req.deviceId);
    if (session?.ready) this.deliver(session, id);
    this.bridge.publishCommand(req.deviceId, {
      id,
      name: req.name,
      ...(req.args ? { args: req.args } : {}),
      expiresAt,
    });
    return this.store.commands.get(id) as CommandRow;
  }

  /** A command seen on the bus (from this gateway, another instance, or an operator's MQTT client). */
  onBusCommand(deviceId: string, payload: Buffer): void {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    const b = body as { id?: unknown; name?: unknown; args?: unknown; expiresAt?: unknown };
    const check = validateValue({
      type: 'command',
      seq: 0,
      id: b?.id,
      name: b?.name,
      ...(b?.args === undefined ? {} : { args: b.args }),
      expiresAt: b?.expiresAt ?? Date.now() + this.opts.defaultTimeoutMs,
    });
    if (!check.ok || check.message.type !== 'command') {
      this.log.warn({ deviceId, error: check.ok ? undefined : check.error }, 'ignored an invalid command on the bus');
      return;
    }
    const cmd = check.message;
    const device = this.store.devices.get(deviceId);
    if (!device || device.state === 'revoked') return;
    this.store.commands.insert({
      id: cmd.id,
      deviceId,
      name: cmd.name,
      ...(cmd.args ? { args: cmd.args } : {}),
      expiresAt: cmd.expiresAt as number,
      createdBy: 'mqtt',
    });
    const session = this.sessions.get(deviceId);
    if (session?.ready) this.deliver(session, cmd.id);
  }

  deliverPending(session: Session): void {
    for (const c of this.store.commands.pendingFor(session.deviceId)) this.deliver(session, c.id);
  }

  private deliver(session: Session, id: string): void {
    const c = this.store.commands.get(id);
    if (!c || c.deviceId !== session.deviceId || c.expiresAt <= Date.now()) return;
    if (!this.store.commands.markSent(id)) return; // someone else delivered it, or it completed
    session.send({
      type: 'command',
      id: c.id,
      name: c.name,
      ...(c.args ? { args: c.args } : {}),
      expiresAt: c.expiresAt,
    });
  }

  onResult(session: Session, msg: CommandResult): void {
    const c = this.store.commands.get(msg.id);
    if (!c || c.deviceId !== session.deviceId) return; // not this device's: ignore, never leak
    const now = Date.now();
    if (this.store.commands.complete(msg.id, msg.status, msg.result, msg.error, now)) {
      this.bridge.publishResult(session.deviceId, msg.id, {
        status: msg.status,
        result: msg.result ?? null,
        error: msg.error ?? null,
        completedAt: now,
      });
    }
  }

  expire(now = Date.now()): void {
    for (const c of this.store.commands.expireDue(now)) {
      const status = c.status === 'sent' ? 'timeout' : 'expired';
      this.bridge.publishResult(c.deviceId, c.id, { status, completedAt: now });
    }
  }

  close(): void {
    clearInterval(this.#sweeper);
  }
}
