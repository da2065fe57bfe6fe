/**
 * Who has the database open for writing, so that a start can tell whether the last run
 * stopped cleanly. Each process that opens the file read-write adds a row (this machine's
 * boot, its pid and the time it started, and which file it opened) and deletes it on a
 * clean close. A row whose process is gone means that process was killed, crashed, or the
 * machine lost power: only then does the next start pay for SQLite's full integrity_check,
 * which reads the whole file (about 4 s per GB). Otherwise the start checks every table
 * except those that grow with telemetry, in milliseconds.
 *
 * Why rows and not one flag: several gateway instances on one machine share the file (WAL
 * needs shared memory, so they are on the same host), and one's clean stop must not hide
 * another's crash. Why the file's identity: an online backup copies the rows of the
 * instance that made it, still alive, and a restored copy must be checked in full.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Db } from './db.ts';

/** Tables left to `kiln gateway check` on a clean start: they grow with the fleet's telemetry. */
export const TELEMETRY_TABLES = ['telemetry', 'telemetry_recent', 'telemetry_inbox', 'telemetry_rollup'] as const;

export interface Opener {
  hostBoot: string;
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/PID/stat): a reused pid differs. */
  started: number;
  /** `dev:ino` of the database file when it was opened. */
  file: string;
  /** One per open: a process that opens the file twice closes each on its own. */
  nonce: string;
}

interface OpenerRow {
  host_boot: string;
  pid: number;
  started: number;
  file: string;
  nonce: string;
}

/** This machine's boot id, or undefined where /proc has none (then every start checks in full). */
function hostBoot(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Field 22 of /proc/PID/stat, or undefined when there is no such process or it has ended
 * and waits to be reaped (state Z or X: a killed gateway's relaunched child stays so until
 * its new parent reaps it, which in a container without an init may be never). The name in
 * field 2 may hold spaces and parentheses, so count after the last ')'.
 */
function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    const v = Number(fields[19]);
    return Number.isInteger(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function fileIdentity(file: string): string {
  const s = statSync(file, { bigint: true });
  return `${s.dev}:${s.ino}`;
}

/** This process as an opener of `file`, or undefined where the platform cannot say. */
export function currentOpener(file: string): Opener | undefined {
  const boot = hostBoot();
  const started = processStart(process.pid);
  if (boot === undefined || started === undefined) return undefined;
  return { hostBoot: boot, pid: process.pid, started, file: fileIdentity(file), nonce: randomBytes(8).toString('hex') };
}

function isAlive(row: OpenerRow, me: Opener): boolean {
  return row.host_boot === me.hostBoot && row.file === me.file && processStart(row.pid) === row.started;
}

/** The pids of the processes that have `file` open for writing now (`kiln gateway restore` refuses while any do). */
export function liveOpeners(file: string): number[] {
  const me = currentOpener(file);
  if (me === undefined) return [];
  const db = new Database(file, { readonly: true });
  try {
    if (!hasLedger(db)) return [];
    return openers(db)
      .filter((r) => isAlive(r, me))
      .map((r) => r.pid);
  } finally {
    db.close();
  }
}

function hasLedger(db: Db): boolean {
  return db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'store_openers'").get() !== undefined;
}

/** What a start found in the ledger: why it needs the full check, and the rows of openers gone. */
export interface LedgerReading {
  /** Undefined when every earlier opener closed cleanly or is still running. */
  reason?: string;
  /** The nonces of the openers gone, to forget once the check has passed (and only those). */
  gone: string[];
}

export function readLedger(db: Db, me: Opener | undefined): LedgerReading {
  if (me === undefined) return { reason: 'this platform cannot tell a clean stop (no /proc)', gone: [] };
  // A new file has nothing to check; one from before this table was kept no ledger.
  if (!hasLedger(db))
    return db.pragma('user_version', { simple: true }) === 0
      ? { gone: [] }
      : { reason: 'first start with this version', gone: [] };
  const gone = openers(db).filter((r) => !isAlive(r, me));
  const g = gone[0];
  const nonces = gone.map((r) => r.nonce);
  if (g === undefined) return { gone: nonces };
  if (g.file !== me.file) return { reason: 'the file was copied or restored since it was last open', gone: nonces };
  if (g.host_boot !== me.hostBoot) return { reason: 'the machine restarted while the database was open', gone: nonces };
  return { reason: `process ${g.pid} had the database open and did not close it (killed or crashed)`, gone: nonces };
}

function openers(db: Db): OpenerRow[] {
  return db.prepare('SELECT host_boot, pid, started, file, nonce FROM store_openers').all() as OpenerRow[];
}

/**
 * After the check passed: forget the openers it found gone, and add this one. An opener that
 * died since the check stays, for the next start to check after.
 */
export function registerOpener(db: Db, me: Opener, checkedGone: readonly string[]): void {
  const forget = db.prepare('DELETE FROM store_openers WHERE nonce = ?');
  db.transaction(() => {
    for (const nonce of checkedGone) forget.run(nonce);
    db.prepare(
      'INSERT INTO store_openers (nonce, host_boot, pid, started, file, opened_at) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(me.nonce, me.hostBoot, me.pid, me.started, me.file, Date.now());
  })();
}

/** A copy just checked in full (a restore): the openers its rows name are not this file's. */
export function forgetAllOpeners(db: Db): void {
  if (hasLedger(db)) db.exec('DELETE FROM store_openers');
}

/** On a clean close, after the last write. */
export function unregisterOpener(db: Db, me: Opener): void {
  db.prepare('DELETE FROM store_openers WHERE nonce = ?').run(me.nonce);
}
