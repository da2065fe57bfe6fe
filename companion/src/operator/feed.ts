/**
 * Where the operator stream's events come from: the MQTT bus, exactly what the gateway (and,
 * with an external broker, every other instance) publishes there. Status, commands and command
 * results are always listened to; telemetry only while some stream wants it, so a fleet's
 * telemetry is not parsed (nor, with an external broker, shipped to this instance) for nobody.
 * Payloads are checked before they become events: the bus is shared, not trusted.
 */
import { isDeviceId, isToken, parseTopic } from '@kiln/protocol';
import type { Logger } from '../log.ts';
import type { Bus, BusHandler } from '../mqtt/bus.ts';

export type OperatorEvent =
  | { type: 'telemetry'; deviceId: string; bootId: string; seq: number; ts: number; metrics: Record<string, number> }
  | {
      type: 'status';
      deviceId: string;
      state: 'online' | 'offline' | 'revoked';
      online: boolean;
      lastSeenAt: number | null;
    }
  | { type: 'config'; deviceId: string; telemetrySec: number; heartbeatSec: number }
  | { type: 'deleted'; deviceId: string; at: number }
  | {
      type: 'command';
      deviceId: string;
      id: string;
      status: string;
      name?: string;
      result?: Record<string, unknown> | null;
      error?: string | null;
    };

const TELEMETRY = 'kiln/v1/+/telemetry';
const FILTERS = [
  'kiln/v1/+/status',
  'kiln/v1/+/config',
  'kiln/v1/+/key',
  'kiln/v1/+/cmd',
  'kiln/v1/+/cmd/+/result',
] as const;
const FINAL_STATUSES = new Set(['ok', 'error', 'unsupported', 'expired', 'timeout']);
const STATES = new Set(['online', 'offline', 'revoked']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isMs = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

function parse(payload: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(payload.toString('utf8')) as unknown;
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function metricsOf(v: unknown): Record<string, number> | undefined {
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length === 0 || keys.length > 32) return undefined;
  for (const k of keys) if (typeof v[k] !== 'number' || !Number.isFinite(v[k])) return undefined;
  return v as Record<string, number>;
}

/** One bus message as an operator event, or undefined when it is not one (or not well formed). */
export function toEvent(topic: string, payload: Buffer): OperatorEvent | undefined {
  const t = parseTopic(topic);
  if (!t) return undefined;
  const b = parse(payload);
  if (!b) return undefined;
  switch (t.kind) {
    case 'telemetry': {
      const metrics = metricsOf(b.metrics);
      if (!metrics || typeof b.bootId !== 'string' || b.bootId.length > 32) return undefined;
      if (!isMs(b.seq) || !isMs(b.ts)) return undefined;
      return { type: 'telemetry', deviceId: t.deviceId, bootId: b.bootId, seq: b.seq, ts: b.ts, metrics };
    }
    case 'status': {
      if (typeof b.state !== 'string' || !STATES.has(b.state)) return undefined;
      const state = b.state as 'online' | 'offline' | 'revoked';
      const lastSeenAt = isMs(b.lastSeen) ? b.lastSeen : null;
      return { type: 'status', deviceId: t.deviceId, state, online: state === 'online', lastSeenAt };
    }
    case 'command': {
      if (typeof b.id !== 'string' || !isToken(b.id, 1, 64) || typeof b.name !== 'string' || b.name.length > 32)
        return undefined;
      return { type: 'command', deviceId: t.deviceId, id: b.id, status: 'pending', name: b.name };
    }
    case 'config': {
      // The intervals in force after an operator's change, on any instance (SPEC §4.4).
      const { telemetrySec, heartbeatSec } = b;
      if (!isInt(telemetrySec, 1, 86_400) || !isInt(heartbeatSec, 5, 3600)) return undefined;
      return { type: 'config', deviceId: t.deviceId, telemetrySec, heartbeatSec };
    }
    case 'key':
      // A deleted device leaves the operator's list (its cleared retained status carries
      // nothing to say so); a rotated key ends the session, which shows as its status.
      if (b.change !== 'deleted' || !isMs(b.at)) return undefined;
      return { type: 'deleted', deviceId: t.deviceId, at: b.at };
    case 'commandResult': {
      if (typeof b.status !== 'string' || !FINAL_STATUSES.has(b.status)) return undefined;
      if (b.deviceId !== undefined && (typeof b.deviceId !== 'string' || !isDeviceId(b.deviceId))) return undefined;
      return {
        type: 'command',
        deviceId: t.deviceId,
        id: t.commandId,
        status: b.status,
        ...(isObject(b.result) ? { result: b.result } : {}),
        ...(typeof b.error === 'string' ? { error: b.error.slice(0, 200) } : {}),
      };
    }
  }
}

export class OperatorFeed {
  #telemetryOn = false;
  /** Subscribe/unsubscribe calls run one after another, so on/off flips cannot interleave. */
  #chain: Promise<void> = Promise.resolve();
  readonly #handler: BusHandler;

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly onEvent: (e: OperatorEvent) => void,
  ) {
    this.#handler = (topic, payload) => {
      const e = toEvent(topic, payload);
      if (e) this.onEvent(e);
    };
  }

  async start(): Promise<void> {
    for (const f of FILTERS) await this.bus.subscribe(f, this.#handler);
  }

  get telemetryOn(): boolean {
    return this.#telemetryOn;
  }

  /** Listens to telemetry while `on`; answers when the bus has taken the change. */
  wantTelemetry(on: boolean): Promise<void> {
    if (on === this.#telemetryOn) return this.#chain;
    this.#telemetryOn = on;
    this.#chain = this.#chain
      .then(() => (on ? this.bus.subscribe(TELEMETRY, this.#handler) : this.bus.unsubscribe(TELEMETRY, this.#handler)))
      .catch((err: unknown) => this.log.warn({ err }, 'operator stream: telemetry (un)subscribe failed'));
    return this.#chain;
  }

  async stop(): Promise<void> {
    await this.#chain;
    if (this.#telemetryOn) await this.bus.unsubscribe(TELEMETRY, this.#handler).catch(() => undefined);
    for (const f of FILTERS) await this.bus.unsubscribe(f, this.#handler).catch(() => undefined);
  }
}
