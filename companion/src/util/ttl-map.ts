/**
 * A Map with a size bound and per-entry expiry. Every in-memory map the gateway keeps
 * (jti cache, rate-limit windows, key cache) is one of these, so none can grow without
 * bound or keep an entry forever (audit: TTL cleanup of every in-memory map).
 */
export class TtlMap<K, V> {
  readonly #entries = new Map<K, { value: V; expiresAt: number }>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly maxEntries: number,
    readonly defaultTtlMs: number,
    private readonly now: () => number = Date.now,
    sweepEveryMs = 10_000,
  ) {
    this.#timer = setInterval(() => this.sweep(), sweepEveryMs);
    this.#timer.unref();
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  /** Answers false when the map is full of live entries (the caller decides: refuse, or fail closed). */
  set(key: K, value: V, ttlMs = this.defaultTtlMs): boolean {
    if (!this.#entries.has(key) && this.#entries.size >= this.maxEntries) {
      this.sweep();
      if (this.#entries.size >= this.maxEntries) {
        // Insertion order is roughly expiry order; evict the oldest only if it is already dead.
        return false;
      }
    }
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: this.now() + ttlMs });
    return true;
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  sweep(): number {
    const now = this.now();
    let removed = 0;
    for (const [k, e] of this.#entries) {
      if (e.expiresAt <= now) {
        this.#entries.delete(k);
        removed++;
      }
    }
    return removed;
  }

  clear(): void {
    this.#entries.clear();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#entries.clear();
  }
}
