/**
 * Fixed-window counters keyed by caller (IP, IP+route, device). The windows live in a
 * TtlMap, so idle callers are forgotten and the table is bounded; when it is full,
 * new callers are refused rather than let through (fail closed).
 */
import { TtlMap } from './ttl-map.ts';

export interface RateDecision {
  allowed: boolean;
  /** Seconds until the window resets, for Retry-After. */
  retryAfterSec: number;
  remaining: number;
}

export class FixedWindowLimiter {
  readonly #windows: TtlMap<string, { start: number; count: number }>;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    maxKeys = 100_000,
    private readonly now: () => number = Date.now,
  ) {
    this.#windows = new TtlMap(maxKeys, windowMs, now);
  }

  get trackedKeys(): number {
    return this.#windows.size;
  }

  hit(key: string, cost = 1): RateDecision {
    const now = this.now();
    let w = this.#windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      w = { start: now, count: 0 };
      if (!this.#windows.set(key, w, this.windowMs)) return { allowed: false, retryAfterSec: 1, remaining: 0 };
    }
    w.count += cost;
    const retryAfterSec = Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000));
    return { allowed: w.count <= this.limit, retryAfterSec, remaining: Math.max(0, this.limit - w.count) };
  }

  close(): void {
    this.#windows.close();
  }
}
