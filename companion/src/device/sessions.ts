/**
 * Live sessions by device: at most one per device (a newer login supersedes the older
 * with 4001), and one shared ping timer for all of them (dead-peer detection without a
 * timer per connection). The timer visits a slice of the sessions each second, so each is
 * pinged once per `pingSec`: pinging 10,000 at once held the event loop for ~200 ms, and
 * every ack due meanwhile waited.
 */
import { CloseCode } from '@kiln/protocol';
import type { GatewayMetrics } from '../metrics.ts';
import type { Session } from './session.ts';

export class SessionRegistry {
  readonly #byDevice = new Map<string, Session>();
  readonly #pinger: NodeJS.Timeout;
  /** Where the rolling ping round is (Map iterators survive insertions and deletions). */
  #round: Iterator<Session> | undefined;

  constructor(
    private readonly metrics: GatewayMetrics,
    pingSec: number,
  ) {
    const tickMs = Math.min(1000, pingSec * 1000);
    this.#pinger = setInterval(() => this.#pingSome(Math.ceil((this.size * tickMs) / (pingSec * 1000))), tickMs);
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

  /** Visits every session now: a peer that has not answered since the last visit is cut, the others pinged. */
  pingAll(): void {
    for (const s of this.#byDevice.values()) this.#visit(s);
  }

  #pingSome(count: number): void {
    let restarted = false;
    for (let i = 0; i < count; i++) {
      this.#round ??= this.#byDevice.values();
      const next = this.#round.next();
      if (next.done) {
        // A round ends: the next begins in this same slice (once: never a session twice a tick).
        this.#round = undefined;
        if (restarted) return;
        restarted = true;
        i--;
        continue;
      }
      this.#visit(next.value);
    }
  }

  #visit(s: Session): void {
    if (!s.alive) {
      this.metrics.closes.inc({ code: 'dead-peer' });
      s.ws.terminate();
      return;
    }
    s.alive = false;
    s.ws.ping();
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
