/**
 * The MQTT bus the gateway publishes to and listens on: the embedded aedes broker
 * (in-process publish/subscribe, no socket) or an external broker through mqtt.js.
 * Both deliver the gateway's own publications back to its subscriptions, which is
 * what routes commands across instances (commands.ts).
 */
import type { Aedes } from 'aedes';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';

export interface PublishOptions {
  qos: 0 | 1;
  retain?: boolean;
}

export type BusHandler = (topic: string, payload: Buffer) => void;

export interface Bus {
  readonly kind: 'embedded' | 'external';
  /** `done` once the broker has taken it (a callback: this runs once per telemetry sample). */
  publish(topic: string, payload: string, opts: PublishOptions, done: (err?: Error) => void): void;
  subscribe(filter: string, handler: BusHandler): Promise<void>;
  /** Removes one handler given to subscribe (the broker subscription goes when its last handler does). */
  unsubscribe(filter: string, handler: BusHandler): Promise<void>;
  connected(): boolean;
  close(): Promise<void>;
}

/** MQTT filter matching (`+` one level, `#` the rest) [MQTT-4.7.1]. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export class AedesBus implements Bus {
  readonly kind = 'embedded';
  readonly #subs: {
    filter: string;
    handler: BusHandler;
    fn: (packet: { topic: string; payload: Buffer | string }, cb: () => void) => void;
  }[] = [];
  constructor(private readonly broker: Aedes) {}

  publish(topic: string, payload: string, opts: PublishOptions, done: (err?: Error) => void): void {
    // The payload stays a string: aedes only passes it on, and mqtt-packet writes a string as
    // UTF-8; a Buffer made of it here was a copy per telemetry sample. `done` as it is (aedes
    // may pass null for no error, which it treats as none): a wrapper would be a closure per sample.
    this.broker.publish(
      { cmd: 'publish', topic, payload, qos: opts.qos, retain: opts.retain ?? false, dup: false },
      done as (err?: Error | null) => void,
    );
  }

  subscribe(filter: string, handler: BusHandler): Promise<void> {
    const fn = (packet: { topic: string; payload: Buffer | string }, cb: () => void) => {
      try {
        handler(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
      } finally {
        cb();
      }
    };
    this.#subs.push({ filter, handler, fn });
    return new Promise((resolve) => this.broker.subscribe(filter, fn as never, resolve));
  }

  unsubscribe(filter: string, handler: BusHandler): Promise<void> {
    const i = this.#subs.findIndex((s) => s.filter === filter && s.handler === handler);
    if (i < 0) return Promise.resolve();
    const [sub] = this.#subs.splice(i, 1);
    return new Promise((resolve) => this.broker.unsubscribe(filter, sub?.fn as never, () => resolve()));
  }

  connected(): boolean {
    return !this.broker.closed;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#subs.map((s) => new Promise<void>((r) => this.broker.unsubscribe(s.filter, s.fn as never, () => r()))),
    );
  }
}

export class ClientBus implements Bus {
  readonly kind = 'external';
  readonly #handlers: { filter: string; handler: BusHandler }[] = [];
  private constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      for (const h of this.#handlers) if (topicMatches(h.filter, topic)) h.handler(topic, payload);
    });
    // mqtt.js leaves Nagle's algorithm on. The gateway writes many small publishes; with Nagle
    // a publish waits for the broker's ACK of the previous segment (up to the peer's delayed-ACK
    // time, 40 ms on Linux) before it leaves. Set on every connection: a reconnect opens a new socket.
    noDelay(client);
    client.on('connect', () => noDelay(client));
  }

  static async connect(url: string, opts: IClientOptions): Promise<ClientBus> {
    const client = await connectAsync(url, { reconnectPeriod: 1000, connectTimeout: 10_000, ...opts });
    return new ClientBus(client);
  }

  publish(topic: string, payload: string, opts: PublishOptions, done: (err?: Error) => void): void {
    this.client.publish(topic, payload, { qos: opts.qos, retain: opts.retain ?? false }, (err) =>
      done(err ?? undefined),
    );
  }

  async subscribe(filter: string, handler: BusHandler): Promise<void> {
    this.#handlers.push({ filter, handler });
    await this.client.subscribeAsync(filter, { qos: 1 });
  }

  async unsubscribe(filter: string, handler: BusHandler): Promise<void> {
    const i = this.#handlers.findIndex((h) => h.filter === filter && h.handler === handler);
    if (i < 0) return;
    this.#handlers.splice(i, 1);
    if (!this.#handlers.some((h) => h.filter === filter)) await this.client.unsubscribeAsync(filter);
  }

  connected(): boolean {
    return this.client.connected;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

/** TCP and TLS streams only (a ws:// broker URL gives a WebSocket duplex, which has no such option). */
function noDelay(client: MqttClient): void {
  const stream = client.stream as { setNoDelay?: (on: boolean) => unknown } | undefined;
  if (typeof stream?.setNoDelay === 'function') stream.setNoDelay(true);
}
