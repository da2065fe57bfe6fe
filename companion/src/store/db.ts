/**
 * Opens the gateway database: WAL, synchronous FULL (an acknowledged sample survives a
 * power cut, not only a crash), foreign keys, a busy timeout; runs the integrity check
 * and the migrations before anything else touches it. Online backup via SQLite's API.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from '../errors.ts';
import { MIGRATIONS } from './migrations.ts';

export type Db = Database.Database;

export interface OpenOptions {
  /** `quick_check` is O(n) too but skips index cross-checks; full by default. */
  integrity?: 'full' | 'quick' | 'skip';
  readonly?: boolean;
}

export function openDatabase(file: string, options: OpenOptions = {}): Db {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file, { readonly: options.readonly ?? false });
  try {
    db.pragma('busy_timeout = 5000');
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
    }
    if (options.integrity !== 'skip') assertIntegrity(db, options.integrity ?? 'full');
    if (!options.readonly) migrate(db);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

export function integrityCheck(db: Db, kind: 'full' | 'quick' = 'full'): string[] {
  const rows = db.pragma(kind === 'full' ? 'integrity_check' : 'quick_check') as Record<string, string>[];
  return rows.map((r) => Object.values(r)[0] as string);
}

function assertIntegrity(db: Db, kind: 'full' | 'quick'): void {
  const result = integrityCheck(db, kind);
  if (result.length !== 1 || result[0] !== 'ok') {
    throw new StoreError(
      'STORE_CORRUPT',
      `the database failed its integrity check: ${result.slice(0, 3).join('; ')}`,
      'restore the last backup (kiln gateway backup OUT makes one) or move the file aside',
    );
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function migrate(db: Db): number {
  const from = schemaVersion(db);
  if (from > MIGRATIONS.length)
    throw new StoreError(
      'STORE_MIGRATION',
      `the database is at schema ${from}, newer than this gateway knows (${MIGRATIONS.length})`,
      'run a newer kiln, or restore a backup made by this version',
    );
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
