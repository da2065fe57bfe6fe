/**
 * Live sessions by device: at most one per device (a newer login supersedes the older
 * with 4001), and one shared ping timer for all of them (dead-peer detection without a
 * timer per connection).
 */
import { CloseCode } from '@kiln/protocol';
import type { GatewayMetrics } from '../metrics.ts';
import type { Session } from './session.ts';

export class SessionRegistry {
  readonly #byDevice = new Map<string, Session>();
  readonly #pinger: NodeJS.Timeout;

  constructor(
    private readonly metrics: GatewayMetrics,
    pingSec: number,
  ) {
    this.#pinger = setInterval(() => this.pingAll(), pingSec * 1000);
    this.#pinger.unref();
  }

  get size(): number {
    return this.#byDevice.size;
  }

  get(deviceId: string): Session | undefined {
    return this.#byDevice.get(deviceId);
  }

  add(session: Session): void {
    const old = this.#byDevice.get(session.deviceId);
    this.#byDevice.set(session.deviceId, session);
    this.metrics.connections.set(this.#byDevice.size);
    if (old && old !== session) old.close(CloseCode.SUPERSEDED, 'superseded by a newer session');
  }

  /** Removes it only if it is still the device's current session. */
  remove(session: Session): boolean {
    if (this.#byDevice.get(session.deviceId) !== session) return false;
    this.#byDevice.delete(session.deviceId);
    this.metrics.connections.set(this.#byDevice.size);
    return true;
  }

  pingAll(): void {
    for (const s of this.#byDevice.values()) {
      if (!s.alive) {
        this.metrics.closes.inc({ code: 'dead-peer' });
        s.ws.terminate();
        continue;
      }
      s.alive = false;
      s.ws.ping();
    }
  }

  all(): IterableIterator<Session> {
    return this.#byDevice.values();
  }

  closeAll(code: number, reason: string): void {
    for (const s of this.#byDevice.values()) s.close(code, reason);
  }

  stop(): void {
    clearInterval(this.#pinger);
  }
}
