/**
 * `kiln gateway restore BACKUP`: puts a backup in place of the gateway database, safely.
 * Copying the file over by hand has two traps this avoids: a gateway still running on the
 * old file, and the old file's WAL left beside it, which SQLite would replay onto the
 * restored copy at the next open and so damage it. Nothing is lost: the database replaced
 * (with its WAL) is moved aside, not deleted, and a damaged backup is refused before
 * anything changes.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KilnError } from '@kiln/protocol/errors';
import { ExitCode } from '@kiln/protocol/exit-codes';
import Database from 'better-sqlite3';
import { knownSchema, openDatabase } from './db.ts';
import { DB_FILE } from './index.ts';
import { forgetAllOpeners, liveOpeners } from './openers.ts';

/** The files SQLite keeps beside a database in WAL mode; they belong to it and move with it. */
const COMPANIONS = ['', '-wal', '-shm'] as const;

export interface RestoreResult {
  file: string;
  pages: number;
  /** Where the database that was there went, if there was one. */
  replacedTo?: string;
  /** Processes that opened the old file while the restore ran: they must be restarted. */
  stillOnReplaced: number[];
}

function syncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function restoreDatabase(dataDir: string, backupFile: string, now = new Date()): Promise<RestoreResult> {
  if (!existsSync(backupFile))
    throw new KilnError('NO_BACKUP', `no backup at ${backupFile}`, {
      exitCode: ExitCode.USAGE,
      hint: 'give the file `kiln gateway backup OUT` wrote',
    });
  const file = join(dataDir, DB_FILE);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 }); // as the gateway makes it
  if (existsSync(file)) {
    const pids = liveOpeners(file);
    if (pids.length > 0)
      throw new KilnError('DATABASE_IN_USE', `process ${pids.join(', ')} has ${file} open`, {
        exitCode: ExitCode.USAGE,
        hint: 'stop the gateway (and any kiln gateway command on that data dir), then restore',
      });
  }

  // The whole backup is checked before anything changes here (STORE_CORRUPT otherwise).
  const source = openDatabase(backupFile, { readonly: true, integrity: 'full' });
  const restoring = `${file}.restoring`;
  let pages: number;
  try {
    knownSchema(source, 'the backup', 'restore it with the kiln that made it, or a newer one');
    for (const s of COMPANIONS) rmSync(`${restoring}${s}`, { force: true });
    // SQLite's backup API rather than a file copy: it reads one consistent snapshot, the
    // backup's own WAL included if it has one, and writes a file that stands alone.
    pages = (await source.backup(restoring)).totalPages;
  } finally {
    source.close();
  }
  // The copy's ledger names the instance the backup was taken from: forget it, since this
  // copy was just checked in full, so that the next start checks only the small tables.
  const copy = new Database(restoring);
  try {
    forgetAllOpeners(copy);
  } finally {
    copy.close();
  }
  syncPath(restoring);

  let replacedTo: string | undefined;
  if (existsSync(file)) {
    replacedTo = `${file}.replaced-${now.toISOString().replaceAll(':', '-')}`;
    for (const s of COMPANIONS) if (existsSync(`${file}${s}`)) renameSync(`${file}${s}`, `${replacedTo}${s}`);
  }
  renameSync(restoring, file);
  syncPath(dirname(file));
  // A gateway started while the backup was being copied holds the replaced file, not this one.
  const stillOnReplaced = replacedTo === undefined ? [] : liveOpeners(replacedTo);
  return { file, pages, stillOnReplaced, ...(replacedTo === undefined ? {} : { replacedTo }) };
}
