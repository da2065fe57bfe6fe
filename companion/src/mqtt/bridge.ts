/**
 * Kiln's MQTT topics (SPEC §1.7) on the bus: telemetry published, status retained,
 * commands listened to, results published. Publishing never blocks ingest: it is
 * fire-and-forget with its latency measured and its failures counted.
 */
import { parseTopic, topics } from '@kiln/protocol';
import type { Logger } from '../log.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Bus } from './bus.ts';

/** What happened to a device's registered key (SPEC §1.7 `key`). */
export type KeyChange = 'rotated' | 'deleted';

export interface DeviceStatus {
  state: 'online' | 'offline' | 'revoked';
  /** When this state began (ms); orders statuses from different instances. */
  since: number;
  lastSeen: number | null;
  instance: string;
}

/** The four option sets, made once: a publish per telemetry sample need not make its own. */
const PUBLISH_OPTIONS = [
  [
    { qos: 0, retain: false },
    { qos: 0, retain: true },
  ],
  [
    { qos: 1, retain: false },
    { qos: 1, retain: true },
  ],
] as const;

/**
 * How long one drain of the backlog may hold the event loop. Bounded: a backlog of thousands
 * sent at once held the loop for 100-260 ms (profiled at 10,000 devices) and every device's
 * ack waited behind it. A time, not a count (250 a turn, as before): under load a turn of the
 * loop grows to hundreds of ms, and a fixed count then drains ever less of what comes in.
 */
const DRAIN_BUDGET_MS = 4;

export class Bridge {
  #inflight = 0;
  #drainScheduled = false;
  readonly #queue: { topic: string; body: string; retain: boolean; qos: 0 | 1 }[] = [];
  #head = 0;
  /** Publishes waiting for a slot; beyond this they are dropped and counted (bounded memory). */
  readonly maxQueued = 50_000;
  /**
   * Publishes handed to the bus at once. Kept below aedes' `concurrency` (BROKER_CONCURRENCY):
   * past it, mqemitter queues and drains recursively, and a burst of thousands (a mass
   * disconnect's status messages) overflowed the stack in the benchmark. aedes delivers each
   * publish from an immediate of its own, so at most this many settle per turn of the event
   * loop: a commit publishes up to a couple of thousand samples at once, and with a window of
   * 500 the MQTT end-to-end p99 at 20,000 samples/s from 1,000 devices was 96 ms, against 56 ms
   * with 2,000. At 10,000 devices the turns grow to hundreds of ms, and 2,000 a turn fell
   * behind the 20,000 samples/s coming in: 47–66 % of them reached the subscriber, the rest
   * dropped at the queue's bound. With 8,000: 83–100 % in one run, 58–60 % in a later one on
   * a slower machine (where even the raw ws baseline missed its p99), so the window is not all
   * of it: there, MQTT has no CPU left to run on.
   */
  readonly maxInflight: number;

  constructor(
    readonly bus: Bus,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    private readonly opts: { qos: 0 | 1; instanceId: string; maxInflight?: number },
  ) {
    this.maxInflight = opts.maxInflight ?? 8000;
  }

  get instanceId(): string {
    return this.opts.instanceId;
  }

  get queued(): number {
    return this.#queue.length - this.#head;
  }

  private publish(topic: string, body: unknown, retain = false, qos = this.opts.qos): void {
    this.#publishText(topic, JSON.stringify(body), retain, qos);
  }

  #publishText(topic: string, text: string, retain: boolean, qos: 0 | 1): void {
    // Behind the backlog too, not only when the window is full: publishes leave in the order
    // they were made. One sent past the queue would overtake older ones, and a retained
    // status overtaken by an older one would be left as the device's state.
    if (this.#inflight >= this.maxInflight || this.queued > 0) {
      if (this.queued >= this.maxQueued) {
        this.metrics.queueDrops.inc({ queue: 'mqtt' });
        return;
      }
      this.#queue.push({ topic, body: text, retain, qos });
      this.#scheduleDrain();
      return;
    }
    this.#send(topic, text, retain, qos);
  }

  #send(topic: string, body: string, retain: boolean, qos: 0 | 1): void {
    this.#inflight++;
    const started = performance.now();
    // A callback, not a promise: this runs once per telemetry sample.
    this.bus.publish(topic, body, PUBLISH_OPTIONS[qos][retain ? 1 : 0], (err) => {
      if (err) {
        this.metrics.queueDrops.inc({ queue: 'mqtt' });
        this.log.warn({ err, topic }, 'MQTT publish failed');
      } else this.metrics.observeMqttPublish((performance.now() - started) / 1000);
      this.#settled();
    });
  }

  #settled(): void {
    this.#inflight--;
    this.#scheduleDrain();
  }

  /** Drain on a fresh stack, never recursively, and once per turn however many settle. */
  #scheduleDrain(): void {
    if (this.queued > 0 && this.#inflight < this.maxInflight && !this.#drainScheduled) {
      this.#drainScheduled = true;
      setImmediate(() => {
        this.#drainScheduled = false;
        this.#drain();
      });
    }
  }

  #drain(): void {
    const until = performance.now() + DRAIN_BUDGET_MS;
    // The clock is read every 64 publishes, not after each one.
    for (let n = 1; this.#inflight < this.maxInflight && this.queued > 0; n++) {
      const next = this.#queue[this.#head++] as { topic: string; body: string; retain: boolean; qos: 0 | 1 };
      this.#send(next.topic, next.body, next.retain, next.qos);
      if ((n & 63) === 0 && performance.now() >= until) break;
    }
    this.#scheduleDrain();
    // Compact now and then instead of shift() per item (O(n) each), and let go of what was sent.
    if (this.queued === 0) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** A stored sample on MQTT, from the metrics' JSON text ingest already holds (the stored text). */
  publishTelemetryJson(deviceId: string, bootId: string, seq: number, ts: number, metricsJson: string): void {
    this.#publishText(
      topics.telemetry(deviceId),
      `{"deviceId":${JSON.stringify(deviceId)},"bootId":${JSON.stringify(bootId)},"seq":${seq},"ts":${ts},"metrics":${metricsJson}}`,
      false,
      this.opts.qos,
    );
  }

  publishStatus(deviceId: string, status: Omit<DeviceStatus, 'instance'>): void {
    this.publish(topics.status(deviceId), { ...status, instance: this.opts.instanceId }, true, 1);
  }

  /** An operator changed the device's intervals here (SPEC §1.7); the instance holding its session sends them. */
  publishConfig(deviceId: string, config: { telemetrySec: number; heartbeatSec: number }): void {
    this.publish(topics.config(deviceId), { ...config, instance: this.opts.instanceId }, false, 1);
  }

  /**
   * An operator rotated the device's key or deleted the device here (SPEC §1.7): every instance
   * ends the device's session begun before `at`. A deleted device's retained status is cleared.
   */
  publishKeyChange(deviceId: string, change: KeyChange, at: number): void {
    this.publish(topics.key(deviceId), { change, at, instance: this.opts.instanceId }, false, 1);
    // An empty retained message removes the retained one (MQTT 3.1.1 §3.3.1.3).
    if (change === 'deleted') this.#publishText(topics.status(deviceId), '', true, 1);
  }

  publishCommand(
    deviceId: string,
    cmd: { id: string; name: string; args?: Record<string, unknown>; expiresAt: number },
  ): void {
    this.publish(topics.command(deviceId), cmd, false, 1);
  }

  publishResult(
    deviceId: string,
    commandId: string,
    body: { status: string; result?: Record<string, unknown> | null; error?: string | null; completedAt: number },
  ): void {
    this.publish(topics.commandResult(deviceId, commandId), { id: commandId, deviceId, ...body }, false, 1);
  }

  async listen(handlers: {
    command: (deviceId: string, payload: Buffer) => void;
    status: (deviceId: string, status: DeviceStatus) => void;
    /** A configuration change made on another instance (the values are read from the shared store). */
    config: (deviceId: string) => void;
    /** The device's key was rotated, or the device deleted, on another instance at `at`. */
    keyChanged: (deviceId: string, change: KeyChange, at: number) => void;
  }): Promise<void> {
    await this.bus.subscribe('kiln/v1/+/key', (topic, payload) => {
      const t = parseTopic(topic);
      if (t?.kind !== 'key') return;
      try {
        const k = JSON.parse(payload.toString('utf8')) as { change?: unknown; at?: unknown; instance?: unknown };
        if (typeof k?.instance !== 'string' || k.instance === this.opts.instanceId || typeof k.at !== 'number') return;
        if (k.change === 'rotated' || k.change === 'deleted') handlers.keyChanged(t.deviceId, k.change, k.at);
      } catch {
        // Not a gateway's payload; ignore.
      }
    });
    await this.bus.subscribe('kiln/v1/+/config', (topic, payload) => {
      const t = parseTopic(topic);
      if (t?.kind !== 'config') return;
      try {
        const c = JSON.parse(payload.toString('utf8')) as { instance?: unknown };
        if (typeof c?.instance === 'string' && c.instance !== this.opts.instanceId) handlers.config(t.deviceId);
      } catch {
        // Not a gateway's payload; ignore.
      }
    });
    await this.bus.subscribe('kiln/v1/+/cmd', (topic, payload) => {
      const t = parseTopic(topic);
      if (t?.kind === 'command') handlers.command(t.deviceId, payload);
    });
    await this.bus.subscribe('kiln/v1/+/status', (topic, payload) => {
      const t = parseTopic(topic);
      if (t?.kind !== 'status') return;
      try {
        const s = JSON.parse(payload.toString('utf8')) as DeviceStatus;
        if (typeof s?.instance === 'string' && typeof s.since === 'number') handlers.status(t.deviceId, s);
      } catch {
        // Not ours: someone else's retained payload; ignore.
      }
    });
  }

  get inflight(): number {
    return this.#inflight;
  }
}
