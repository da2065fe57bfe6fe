/** The audit log: one row per operator action (who, what, on what, from where). */
import type { Db } from './db.ts';

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  detail: unknown;
  ip: string | null;
}

export class AuditRepo {
  readonly #insert;
  constructor(private readonly db: Db) {
    this.#insert = db.prepare('INSERT INTO audit (at, actor, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?)');
  }

  record(e: { actor: string; action: string; target?: string; detail?: unknown; ip?: string }, now = Date.now()): void {
    this.#insert.run(
      now,
      e.actor,
      e.action,
      e.target ?? null,
      e.detail === undefined ? null : JSON.stringify(e.detail),
      e.ip ?? null,
    );
  }

  list(limit: number, beforeId?: number): AuditEntry[] {
    const rows = this.db
      .prepare(`SELECT * FROM audit ${beforeId === undefined ? '' : 'WHERE id < ?'} ORDER BY id DESC LIMIT ?`)
      .all(...(beforeId === undefined ? [limit] : [beforeId, limit])) as (Omit<AuditEntry, 'detail'> & {
      detail: string | null;
    })[];
    return rows.map((r) => ({ ...r, detail: r.detail === null ? null : JSON.parse(r.detail) }));
  }
}
