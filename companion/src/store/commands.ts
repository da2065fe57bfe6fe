/** Commands sent to devices: pending → sent → ok | error | unsupported | expired | timeout. */
import type { Db } from './db.ts';

export type CommandStatus = 'pending' | 'sent' | 'ok' | 'error' | 'unsupported' | 'expired' | 'timeout';
export const OPEN_STATUSES: readonly CommandStatus[] = ['pending', 'sent'];

export interface CommandRow {
  id: string;
  deviceId: string;
  name: string;
  args: Record<string, unknown> | null;
  status: CommandStatus;
  createdAt: number;
  sentAt: number | null;
  completedAt: number | null;
  expiresAt: number;
  result: Record<string, unknown> | null;
  error: string | null;
  createdBy: string | null;
}

interface Raw {
  id: string;
  device_id: string;
  name: string;
  args: string | null;
  status: CommandStatus;
  created_at: number;
  sent_at: number | null;
  completed_at: number | null;
  expires_at: number;
  result: string | null;
  error: string | null;
  created_by: string | null;
}

const toRow = (r: Raw): CommandRow => ({
  id: r.id,
  deviceId: r.device_id,
  name: r.name,
  args: r.args === null ? null : (JSON.parse(r.args) as Record<string, unknown>),
  status: r.status,
  createdAt: r.created_at,
  sentAt: r.sent_at,
  completedAt: r.completed_at,
  expiresAt: r.expires_at,
  result: r.result === null ? null : (JSON.parse(r.result) as Record<string, unknown>),
  error: r.error,
  createdBy: r.created_by,
});

export interface NewCommand {
  id: string;
  deviceId: string;
  name: string;
  args?: Record<string, unknown>;
  expiresAt: number;
  createdBy?: string;
}

export class CommandRepo {
  #pendingFor: import('better-sqlite3').Statement | undefined;
  constructor(private readonly db: Db) {}

  /** Idempotent on id (the same command may arrive from REST and again from the bus). */
  insert(c: NewCommand, now = Date.now()): boolean {
    return (
      this.db
        .prepare(
          `INSERT OR IGNORE INTO commands (id, device_id, name, args, status, created_at, expires_at, created_by)
           VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)`,
        )
        .run(
          c.id,
          c.deviceId,
          c.name,
          c.args === undefined ? null : JSON.stringify(c.args),
          now,
          c.expiresAt,
          c.createdBy ?? null,
        ).changes === 1
    );
  }

  get(id: string): CommandRow | undefined {
    const r = this.db.prepare('SELECT * FROM commands WHERE id = ?').get(id) as Raw | undefined;
    return r && toRow(r);
  }

  listForDevice(deviceId: string, limit: number): CommandRow[] {
    return (
      this.db
        .prepare('SELECT * FROM commands WHERE device_id = ? ORDER BY created_at DESC LIMIT ?')
        .all(deviceId, limit) as Raw[]
    ).map(toRow);
  }

  openCount(deviceId: string): number {
    return (
      this.db
        .prepare("SELECT count(*) AS n FROM commands WHERE device_id = ? AND status IN ('pending', 'sent')")
        .get(deviceId) as { n: number }
    ).n;
  }

  pendingFor(deviceId: string, now = Date.now()): CommandRow[] {
    this.#pendingFor ??= this.db.prepare(
      "SELECT * FROM commands WHERE device_id = ? AND status = 'pending' AND expires_at > ? ORDER BY created_at",
    );
    return (this.#pendingFor.all(deviceId, now) as Raw[]).map(toRow);
  }

  markSent(id: string, now = Date.now()): boolean {
    return (
      this.db
        .prepare("UPDATE commands SET status = 'sent', sent_at = ? WHERE id = ? AND status = 'pending'")
        .run(now, id).changes === 1
    );
  }

  /** Only an open command completes; a late or repeated result changes nothing. */
  complete(
    id: string,
    status: Exclude<CommandStatus, 'pending' | 'sent'>,
    result?: Record<string, unknown>,
    error?: string,
    now = Date.now(),
  ): boolean {
    return (
      this.db
        .prepare(
          `UPDATE commands SET status = ?, completed_at = ?, result = ?, error = ?
           WHERE id = ? AND status IN ('pending', 'sent')`,
        )
        .run(status, now, result === undefined ? null : JSON.stringify(result), error ?? null, id).changes === 1
    );
  }

  /** Open commands past their expiry become `timeout` (sent) or `expired` (never delivered). */
  expireDue(now = Date.now()): CommandRow[] {
    const due = (
      this.db
        .prepare("SELECT * FROM commands WHERE status IN ('pending', 'sent') AND expires_at <= ?")
        .all(now) as Raw[]
    ).map(toRow);
    // Only those this call closed: another instance sharing the store may have raced us.
    return due.filter((c) =>
      this.complete(c.id, c.status === 'sent' ? 'timeout' : 'expired', undefined, undefined, now),
    );
  }
}
