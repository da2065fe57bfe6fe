/**
 * Browser sessions of operators who signed in with an API key. Held in memory only (a restart
 * signs everyone out) and keyed by the SHA-256 of the cookie value, so neither the table nor a
 * heap dump holds a usable cookie. Bounded in all and per API key (a key's oldest session ends
 * first); each ends after `idleMs` unused or `maxMs` after sign-in, and a sweep removes the dead.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ApiKeyRow, Scope } from '../store/api-keys.ts';

export interface OperatorSession {
  /** SHA-256 (hex) of the cookie value: the session's name inside the gateway. */
  readonly id: string;
  readonly keyId: string;
  readonly scope: Scope;
  readonly csrfToken: string;
  readonly createdAt: number;
  /** Absolute end, whatever its use. */
  readonly expiresAt: number;
  lastUsedAt: number;
}

export type SessionEndReason = 'logout' | 'expired' | 'evicted' | 'key-revoked' | 'shutdown';

export interface SessionLimits {
  maxSessions: number;
  perKey: number;
  idleMs: number;
  maxMs: number;
}

/** Cookie values are 32 random bytes, base64url; anything else is not looked up. */
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

export const sessionIdOf = (cookieValue: string) => createHash('sha256').update(cookieValue, 'utf8').digest('hex');

export class OperatorSessions {
  readonly #byId = new Map<string, OperatorSession>();
  readonly #byKey = new Map<string, Set<string>>();
  readonly #listeners: ((s: OperatorSession, reason: SessionEndReason) => void)[] = [];
  readonly #sweeper: NodeJS.Timeout;

  constructor(
    readonly limits: SessionLimits,
    private readonly now: () => number = Date.now,
    sweepEveryMs = 60_000,
  ) {
    this.#sweeper = setInterval(() => this.sweep(), sweepEveryMs);
    this.#sweeper.unref();
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Called for every session that ends, whatever the reason (streams of that session close). */
  onEnded(fn: (s: OperatorSession, reason: SessionEndReason) => void): void {
    this.#listeners.push(fn);
  }

  /** A new session for this key; undefined when the table is full of live sessions. */
  create(key: ApiKeyRow): { cookieValue: string; session: OperatorSession } | undefined {
    const now = this.now();
    const mine = this.#byKey.get(key.id);
    if (mine && mine.size >= this.limits.perKey) {
      // Insertion order is sign-in order: the key's oldest session makes room.
      const oldest = this.#byId.get(mine.values().next().value as string);
      if (oldest) this.#end(oldest, 'evicted');
    }
    if (this.#byId.size >= this.limits.maxSessions) {
      this.sweep();
      if (this.#byId.size >= this.limits.maxSessions) return undefined;
    }
    const cookieValue = randomBytes(32).toString('base64url');
    const session: OperatorSession = {
      id: sessionIdOf(cookieValue),
      keyId: key.id,
      scope: key.scope,
      csrfToken: randomBytes(32).toString('base64url'),
      createdAt: now,
      expiresAt: now + this.limits.maxMs,
      lastUsedAt: now,
    };
    this.#byId.set(session.id, session);
    let set = this.#byKey.get(key.id);
    if (!set) {
      set = new Set();
      this.#byKey.set(key.id, set);
    }
    set.add(session.id);
    return { cookieValue, session };
  }

  /** The live session this cookie value names (not touched: see touch). */
  lookup(cookieValue: string): OperatorSession | undefined {
    if (!COOKIE_VALUE.test(cookieValue)) return undefined;
    return this.get(sessionIdOf(cookieValue));
  }

  get(id: string): OperatorSession | undefined {
    const s = this.#byId.get(id);
    if (!s) return undefined;
    if (this.#dead(s, this.now())) {
      this.#end(s, 'expired');
      return undefined;
    }
    return s;
  }

  touch(s: OperatorSession): void {
    s.lastUsedAt = this.now();
  }

  end(id: string, reason: SessionEndReason): boolean {
    const s = this.#byId.get(id);
    if (!s) return false;
    this.#end(s, reason);
    return true;
  }

  /** Ends every session of a key (it was revoked); answers how many. */
  endForKey(keyId: string): number {
    const ids = [...(this.#byKey.get(keyId) ?? [])];
    for (const id of ids) this.end(id, 'key-revoked');
    return ids.length;
  }

  sweep(): number {
    const now = this.now();
    let removed = 0;
    for (const s of this.#byId.values()) {
      if (this.#dead(s, now)) {
        this.#end(s, 'expired');
        removed++;
      }
    }
    return removed;
  }

  #dead(s: OperatorSession, now: number): boolean {
    return now >= s.expiresAt || now - s.lastUsedAt >= this.limits.idleMs;
  }

  #end(s: OperatorSession, reason: SessionEndReason): void {
    this.#byId.delete(s.id);
    const set = this.#byKey.get(s.keyId);
    set?.delete(s.id);
    if (set?.size === 0) this.#byKey.delete(s.keyId);
    for (const fn of this.#listeners) fn(s, reason);
  }

  close(): void {
    clearInterval(this.#sweeper);
    for (const s of [...this.#byId.values()]) this.#end(s, 'shutdown');
  }
}
