/**
 * One operator stream connection: its subscription, its inbound frame rules and its send
 * policy.
 *
 * Send policy. ws holds what the socket has not taken yet (bufferedAmount). Telemetry is
 * written only while that is under `telemetryCutoffBytes`; past it, telemetry waits in a
 * queue of the same size whose oldest frames are dropped (a live chart wants the newest), and
 * once everything has drained a `{"type":"dropped","count":n}` tells the client how many it
 * missed. Status and command frames are never dropped: they are written at once, and if even
 * they would push bufferedAmount past `sendQueueBytes` the connection is closed with 1013.
 */
import type { WebSocket } from 'ws';
import type { Principal } from './auth.ts';
import type { OperatorEvent } from './feed.ts';
import type { OperatorMetrics } from './metrics.ts';

export const STREAM_CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  TRY_AGAIN_LATER: 1013,
  /** The key was revoked, or the session ended (logout, expiry). */
  CREDENTIALS_ENDED: 4003,
} as const;

/** Bad frames tolerated (each answered with an error) before the connection is closed with 1008. */
export const MAX_BAD_FRAMES = 10;
export const MAX_SUBSCRIBED_DEVICES = 1000;
export const MAX_SUBSCRIBED_METRICS = 32;

const DEVICE_ID = /^[a-z0-9][a-z0-9_-]{2,63}$/;
const METRIC = /^[a-z][a-z0-9_.]{0,31}$/;

export interface SendLimits {
  telemetryCutoffBytes: number;
  sendQueueBytes: number;
}

type Subscription = { devices: 'all' | Set<string>; metrics: Set<string> | null };

export class StreamConnection {
  #sub: Subscription = { devices: new Set(), metrics: null };
  readonly #queue: string[] = [];
  #head = 0;
  #queuedBytes = 0;
  #dropped = 0;
  #badFrames = 0;
  closed = false;
  /** Ping/pong: set on pong, cleared at each ping round. */
  alive = true;

  constructor(
    readonly ws: WebSocket,
    readonly principal: Principal,
    private readonly limits: SendLimits,
    private readonly metrics: OperatorMetrics,
    /** Told when the subscription changes (the hub listens to telemetry only while someone wants it). */
    private readonly onSubscriptionChange: () => Promise<void>,
  ) {
    ws.on('pong', () => {
      this.alive = true;
    });
  }

  get wantsTelemetry(): boolean {
    return this.#sub.devices === 'all' || this.#sub.devices.size > 0;
  }

  /** Telemetry frames waiting for the socket (bounded by telemetryCutoffBytes, plus the newest frame). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** One inbound text frame from the client. */
  receive(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    const r = isBinary ? { code: 'BAD_FRAME', message: 'frames are JSON text' } : readSubscribe(data);
    if ('code' in r) {
      this.#bad(r.code, r.message);
      return;
    }
    const sub = r.subscription;
    this.#sub = sub;
    void this.onSubscriptionChange().then(() =>
      this.#control({
        type: 'subscribed',
        devices: sub.devices === 'all' ? ['*'] : [...sub.devices],
        metrics: sub.metrics ? [...sub.metrics] : null,
      }),
    );
  }

  #bad(code: string, message: string): void {
    this.#badFrames++;
    if (this.#badFrames > MAX_BAD_FRAMES) {
      this.close(STREAM_CLOSE.POLICY_VIOLATION, 'too many bad frames');
      return;
    }
    this.#control({ type: 'error', code, message });
  }

  /** An event from the feed; `shared` is its JSON, made once for every connection that takes it whole. */
  deliver(e: OperatorEvent, shared: () => string): void {
    if (this.closed) return;
    if (e.type !== 'telemetry') {
      this.#controlText(shared(), e.type);
      return;
    }
    const devices = this.#sub.devices;
    if (devices !== 'all' && !devices.has(e.deviceId)) return;
    const wanted = this.#sub.metrics;
    if (!wanted) {
      this.#telemetry(shared());
      return;
    }
    let metrics: Record<string, number> | undefined;
    for (const k in e.metrics) {
      if (!wanted.has(k)) continue;
      metrics ??= {};
      metrics[k] = e.metrics[k] as number;
    }
    if (metrics) this.#telemetry(JSON.stringify({ ...e, metrics }));
  }

  hello(): void {
    this.#control({ type: 'hello', server: 'kiln', time: Date.now() });
  }

  #control(frame: object): void {
    this.#controlText(JSON.stringify(frame), (frame as { type: string }).type);
  }

  #controlText(text: string, type: string): void {
    if (this.closed) return;
    if (this.ws.bufferedAmount + text.length > this.limits.sendQueueBytes) {
      this.metrics.streamOverflows.inc();
      this.close(STREAM_CLOSE.TRY_AGAIN_LATER, 'send queue full');
      return;
    }
    // The callback too lets waiting telemetry go once these writes are done.
    this.ws.send(text, this.#pump);
    this.metrics.streamFrames.inc({ type });
  }

  #telemetry(text: string): void {
    this.#queue.push(text);
    this.#queuedBytes += text.length;
    // The queue is as large as the cutoff: past it, the oldest waiting frames go (never the newest).
    while (this.#queuedBytes > this.limits.telemetryCutoffBytes && this.#head < this.#queue.length - 1) {
      this.#queuedBytes -= (this.#queue[this.#head] as string).length;
      this.#queue[this.#head++] = '';
      this.#dropped++;
      this.metrics.streamDropped.inc();
    }
    this.#pump();
  }

  /** Writes waiting telemetry while the socket keeps up; called again as writes complete. */
  #pump = (): void => {
    if (this.closed) return;
    while (this.#head < this.#queue.length && this.ws.bufferedAmount < this.limits.telemetryCutoffBytes) {
      const text = this.#queue[this.#head] as string;
      this.#queue[this.#head++] = '';
      this.#queuedBytes -= text.length;
      this.ws.send(text, this.#pump);
      this.metrics.streamFrames.inc({ type: 'telemetry' });
    }
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    if (
      this.#dropped > 0 &&
      this.#head === this.#queue.length &&
      this.ws.bufferedAmount < this.limits.telemetryCutoffBytes
    ) {
      const count = this.#dropped;
      this.#dropped = 0;
      this.#control({ type: 'dropped', count });
    }
  };

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.close(code, reason);
    // A peer that never answers the close handshake is cut after 5 s.
    setTimeout(() => this.ws.terminate(), 5_000).unref();
  }

  /** The socket is gone. */
  detach(): void {
    this.closed = true;
    this.#queue.length = 0;
    this.#head = 0;
    this.#queuedBytes = 0;
  }
}

/** A client frame as a subscription, or the error to answer it with. */
function readSubscribe(data: Buffer): { subscription: Subscription } | { code: string; message: string } {
  let msg: unknown;
  try {
    msg = JSON.parse(data.toString('utf8'));
  } catch {
    return { code: 'BAD_JSON', message: 'the frame is not JSON' };
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg))
    return { code: 'BAD_FRAME', message: 'expected an object' };
  const m = msg as { type?: unknown; devices?: unknown; metrics?: unknown };
  if (m.type !== 'subscribe')
    return { code: 'UNKNOWN_TYPE', message: 'the only client frame is {"type":"subscribe",…}' };
  for (const k of Object.keys(m))
    if (k !== 'type' && k !== 'devices' && k !== 'metrics') return { code: 'BAD_FRAME', message: `unknown field ${k}` };
  const sub = parseSubscription(m.devices, m.metrics);
  return typeof sub === 'string' ? { code: 'BAD_SUBSCRIPTION', message: sub } : { subscription: sub };
}

/** A subscribe frame's devices and metrics, or what is wrong with them. */
export function parseSubscription(devices: unknown, metrics: unknown): Subscription | string {
  if (!Array.isArray(devices)) return 'devices: expected an array of device ids, or ["*"]';
  if (devices.length > MAX_SUBSCRIBED_DEVICES) return `devices: at most ${MAX_SUBSCRIBED_DEVICES} ids (or ["*"])`;
  let devs: Subscription['devices'];
  if (devices.length === 1 && devices[0] === '*') devs = 'all';
  else {
    for (const d of devices) if (typeof d !== 'string' || !DEVICE_ID.test(d)) return 'devices: not a device id';
    devs = new Set(devices as string[]);
  }
  if (metrics === undefined || metrics === null) return { devices: devs, metrics: null };
  if (!Array.isArray(metrics) || metrics.length === 0 || metrics.length > MAX_SUBSCRIBED_METRICS)
    return `metrics: expected 1..${MAX_SUBSCRIBED_METRICS} metric names, or null`;
  for (const m of metrics) if (typeof m !== 'string' || !METRIC.test(m)) return 'metrics: not a metric name';
  return { devices: devs, metrics: new Set(metrics as string[]) };
}
