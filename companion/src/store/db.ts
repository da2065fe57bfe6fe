/**
 * Opens the gateway database: WAL, synchronous FULL (an acknowledged sample survives a
 * power cut, not only a crash), foreign keys, a busy timeout; runs the integrity check
 * and the migrations before anything else touches it. Online backup via SQLite's API.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
// Not the package's index (130 ms to load): the store's worker threads load this file (errors.ts).
import { KilnError } from '@kiln/protocol/errors';
import { ExitCode } from '@kiln/protocol/exit-codes';
import Database from 'better-sqlite3';
import { StoreError } from '../errors.ts';
import { MIGRATIONS } from './migrations.ts';
import { currentOpener, type Opener, readLedger, registerOpener, TELEMETRY_TABLES } from './openers.ts';

export type Db = Database.Database;

export interface OpenOptions {
  /**
   * `auto` (the default): SQLite's full integrity_check when the last run did not stop
   * cleanly (openers.ts), else the full check of every table but the telemetry ones, whose
   * cost does not grow with the file. `full` always reads the whole file; `quick_check` is
   * O(n) too but skips index cross-checks.
   */
  integrity?: 'auto' | 'full' | 'quick' | 'skip';
  readonly?: boolean;
}

/** What the check at open did, for the start-up log. */
export interface IntegrityReport {
  kind: 'full' | 'tables' | 'quick' | 'skip';
  /** Why `auto` chose the full check. */
  reason?: string;
  ms: number;
}

export interface OpenedDatabase {
  db: Db;
  check: IntegrityReport;
  /** This process's row in store_openers, to remove on a clean close (read-write `auto` opens only). */
  opener?: Opener;
}

/** For a second connection to a file already opened with openChecked (threads: `skip`), or a one-off full check. */
export function openDatabase(file: string, options: OpenOptions & { integrity?: 'full' | 'quick' | 'skip' } = {}): Db {
  return openChecked(file, { integrity: 'full', ...options }).db;
}

export function openChecked(file: string, options: OpenOptions = {}): OpenedDatabase {
  mkdirSync(dirname(file), { recursive: true });
  const readonly = options.readonly ?? false;
  const db = new Database(file, { readonly });
  try {
    db.pragma('busy_timeout = 5000');
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
    }
    const mode = options.integrity ?? 'auto';
    const opener = mode === 'auto' && !readonly ? currentOpener(file) : undefined;
    const started = performance.now();
    let check: IntegrityReport;
    let gone: string[] = [];
    if (mode === 'auto') {
      const ledger = readonly ? { reason: 'a read-only open cannot tell a clean stop', gone } : readLedger(db, opener);
      gone = ledger.gone;
      if (ledger.reason === undefined) assertTables(db);
      else assertIntegrity(db, 'full');
      check = ledger.reason === undefined ? { kind: 'tables', ms: 0 } : { kind: 'full', reason: ledger.reason, ms: 0 };
    } else {
      if (mode !== 'skip') assertIntegrity(db, mode);
      check = { kind: mode, ms: 0 };
    }
    check.ms = Math.round(performance.now() - started);
    if (!readonly) migrate(db);
    if (opener) registerOpener(db, opener, gone);
    return { db, check, ...(opener ? { opener } : {}) };
  } catch (e) {
    db.close();
    throw asDamage(e);
  }
}

export function integrityCheck(db: Db, kind: 'full' | 'quick' = 'full'): string[] {
  const rows = db.pragma(kind === 'full' ? 'integrity_check' : 'quick_check') as Record<string, string>[];
  return rows.map((r) => Object.values(r)[0] as string);
}

/** Every table but the telemetry ones, each with its indexes. */
function assertTables(db: Db): void {
  const tables = db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    .pluck()
    .all() as string[];
  const skip = new Set<string>(TELEMETRY_TABLES);
  const result: string[] = [];
  for (const t of tables) {
    if (skip.has(t)) continue;
    const rows = db.pragma(`integrity_check("${t.replaceAll('"', '""')}")`) as Record<string, string>[];
    for (const r of rows) if (Object.values(r)[0] !== 'ok') result.push(Object.values(r)[0] as string);
  }
  refuseIfDamaged(result.length === 0 ? ['ok'] : result);
}

function assertIntegrity(db: Db, kind: 'full' | 'quick'): void {
  refuseIfDamaged(integrityCheck(db, kind));
}

function refuseIfDamaged(result: string[]): void {
  if (result.length !== 1 || result[0] !== 'ok') throw damaged(result);
}

function damaged(problems: string[]): StoreError {
  return new StoreError(
    'STORE_CORRUPT',
    `the database failed its integrity check: ${problems.slice(0, 3).join('; ')}`,
    'restore the last backup (kiln gateway backup OUT makes one) or move the file aside',
  );
}

/**
 * SQLite's own word for a damaged file (a page too broken for integrity_check to report on,
 * or not a database at all) as STORE_CORRUPT; any other error as it is.
 */
export function asDamage(e: unknown): unknown {
  const code = (e as { code?: unknown }).code;
  const corrupt = typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
  return corrupt ? damaged([(e as Error).message]) : e;
}

/**
 * `kiln gateway check`: the full integrity_check on a read-only connection of its own, which
 * a running gateway does not notice (WAL: one read snapshot). Throws STORE_CORRUPT.
 */
export function checkDatabase(file: string): { ok: true; pages: number; ms: number } {
  if (!existsSync(file))
    throw new KilnError('NO_DATABASE', `no gateway database at ${file}`, {
      exitCode: ExitCode.USAGE,
      hint: 'pass --data-dir, or start the gateway once',
    });
  const started = performance.now();
  const db = openDatabase(file, { readonly: true, integrity: 'full' });
  try {
    const pages = db.pragma('page_count', { simple: true }) as number;
    return { ok: true, pages, ms: Math.round(performance.now() - started) };
  } finally {
    db.close();
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Answers the file's schema version; refuses one from a newer Kiln (past the migrations this one knows). */
export function knownSchema(
  db: Db,
  what = 'the database',
  hint = 'run a newer kiln, or restore a backup made by this version',
): number {
  const v = schemaVersion(db);
  if (v > MIGRATIONS.length)
    throw new StoreError(
      'STORE_MIGRATION',
      `${what} is at schema ${v}, newer than this gateway knows (${MIGRATIONS.length})`,
      hint,
    );
  return v;
}

export function migrate(db: Db): number {
  const from = knownSchema(db);
  for (let v = from; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return MIGRATIONS.length - from;
}

/** A consistent copy while the gateway keeps writing (SQLite online backup API). */
export async function backupDatabase(db: Db, outFile: string): Promise<{ pages: number }> {
  mkdirSync(dirname(outFile), { recursive: true });
  try {
    const r = await db.backup(outFile);
    return { pages: r.totalPages };
  } catch (e) {
    throw new StoreError('STORE_BACKUP', `backup to ${outFile} failed: ${(e as Error).message}`);
  }
}
