/**
 * Operator API keys. Only `h1:<sha256>` is stored; lookup is by hash (an index probe on
 * a digest reveals nothing about the key) and the match is re-checked in constant time.
 */
import { randomBytes } from 'node:crypto';
import { hashSecret, newApiKey, secretMatches } from '../secrets.ts';
import type { Db } from './db.ts';

/**
 * read: look at devices, telemetry, commands, metrics. enroll: read, and register devices
 * and rotate their keys (what a provisioning station needs, and nothing more). operate:
 * read, and send commands. admin: everything, including revocation and API keys.
 */
export type Scope = 'read' | 'enroll' | 'operate' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'enroll', 'operate', 'admin'];
const GRANTS: Record<Scope, readonly Scope[]> = {
  read: ['read'],
  enroll: ['read', 'enroll'],
  operate: ['read', 'operate'],
  admin: ['read', 'enroll', 'operate', 'admin'],
};
export const scopeAllows = (have: Scope, need: Scope) => GRANTS[have].includes(need);

export interface ApiKeyRow {
  id: string;
  name: string;
  scope: Scope;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface Raw {
  id: string;
  name: string;
  scope: Scope;
  hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

const toRow = (r: Raw): ApiKeyRow => ({
  id: r.id,
  name: r.name,
  scope: r.scope,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

export class ApiKeyRepo {
  readonly #byHash;
  readonly #byId;
  readonly #touch;
  constructor(private readonly db: Db) {
    this.#byHash = db.prepare<[string], Raw>('SELECT * FROM api_keys WHERE hash = ?');
    this.#byId = db.prepare<[string], Raw>('SELECT * FROM api_keys WHERE id = ?');
    this.#touch = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?');
  }

  /** Answers the row and the key in clear; the key is never stored and never shown again. */
  create(name: string, scope: Scope, now = Date.now()): { row: ApiKeyRow; key: string } {
    const key = newApiKey();
    const id = `key_${randomBytes(8).toString('hex')}`;
    this.db
      .prepare('INSERT INTO api_keys (id, name, scope, hash, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(id, name, scope, hashSecret(key), now);
    return { row: this.get(id) as ApiKeyRow, key };
  }

  get(id: string): ApiKeyRow | undefined {
    const r = this.#byId.get(id);
    return r && toRow(r);
  }

  /**
   * The key by id while it is not revoked: what a browser session re-checks on every use, so a
   * revocation made anywhere (REST, another process's CLI) ends its sessions at once.
   */
  live(id: string): ApiKeyRow | undefined {
    const r = this.#byId.get(id);
    return r && r.revoked_at === null ? toRow(r) : undefined;
  }

  list(): ApiKeyRow[] {
    return (this.db.prepare('SELECT * FROM api_keys ORDER BY created_at, id').all() as Raw[]).map(toRow);
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL').get() as { n: number }).n;
  }

  /** The live key this secret is, or undefined. */
  verify(secret: string, now = Date.now()): ApiKeyRow | undefined {
    if (secret.length === 0 || secret.length > 256) return undefined;
    const r = this.#byHash.get(hashSecret(secret));
    if (!r || !secretMatches(secret, r.hash) || r.revoked_at !== null) return undefined;
    // Coarse last-used (once a minute) keeps auth from writing on every request.
    if (r.last_used_at === null || now - r.last_used_at > 60_000) this.#touch.run(now, r.id);
    return toRow(r);
  }

  revoke(id: string, now = Date.now()): boolean {
    return (
      this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(now, id).changes ===
      1
    );
  }

  storedHash(id: string): string | undefined {
    return (this.db.prepare('SELECT hash FROM api_keys WHERE id = ?').get(id) as { hash: string } | undefined)?.hash;
  }
}
