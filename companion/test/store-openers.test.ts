/**
 * The integrity check at start (openers.ts, db.ts): after a clean stop a start checks every
 * table but the telemetry ones; after a process was killed with the file open, after a copy
 * or restore, and on a file from before the ledger, it runs SQLite's full integrity_check.
 * `kiln gateway check` reads the whole file on demand. Real files, real processes, SIGKILL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDatabase } from '../src/store/db.ts';
import { DB_FILE, Store } from '../src/store/index.ts';
import { TELEMETRY_TABLES } from '../src/store/openers.ts';
import { damageTable, tempDir } from './helpers.ts';

const STORE_MODULE = fileURLToPath(new URL('../src/store/index.ts', import.meta.url));
const COMPANION = fileURLToPath(new URL('..', import.meta.url));

const dirs: { remove(): void }[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) d.remove();
});

function dataDir(): string {
  const t = tempDir();
  dirs.push(t);
  return t.dir;
}

/** Opens and closes cleanly: answers what the open's check did. */
function openClose(dir: string) {
  const s = Store.open(dir);
  const { check } = s;
  s.close();
  return check;
}

const holderCode = (dir: string) => `const { Store } = await import(${JSON.stringify(STORE_MODULE)});
  Store.open(${JSON.stringify(dir)}); process.stdout.write('open ' + process.pid + '\\n'); setInterval(() => {}, 1000);`;
const NODE_EVAL = ['--import', 'tsx', '--input-type=module', '-e'];

/** Starts `child` and answers the pid of the process that opened the store, once it has. */
async function opened(child: ChildProcess): Promise<number> {
  children.push(child);
  let err = '';
  child.stderr?.on('data', (d) => {
    err += String(d);
  });
  return new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      const m = /open (\d+)/.exec(String(d));
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (c) => reject(new Error(`holder exited ${c}: ${err}`)));
  });
}

/** A second process that opens the store and holds it until killed. */
async function holder(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...NODE_EVAL, holderCode(dir)], {
    cwd: COMPANION,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await opened(child);
  return child;
}

async function kill9(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
}

describe('integrity check at start', () => {
  it('a new file, then a start after a clean stop, check the tables and not the whole file', () => {
    const dir = dataDir();
    expect(openClose(dir)).toMatchObject({ kind: 'tables' });
    expect(openClose(dir)).toMatchObject({ kind: 'tables' });
    expect(openClose(dir).reason).toBeUndefined();
  });

  it('runs the full check after a process with the file open was killed, then trusts clean stops again', async () => {
    const dir = dataDir();
    openClose(dir);
    await kill9(await holder(dir));
    const after = openClose(dir);
    expect(after.kind).toBe('full');
    expect(after.reason).toMatch(/^process \d+ had the database open and did not close it/);
    expect(openClose(dir)).toMatchObject({ kind: 'tables' });
  });

  it('takes a killed opener its parent has not reaped (a zombie) for gone', async () => {
    const dir = dataDir();
    openClose(dir);
    // The holder's parent becomes `sleep`, which never reaps it: as under a container's
    // first process when that is not an init.
    const sh = spawn('sh', ['-c', `"${process.execPath}" ${NODE_EVAL.join(' ')} "$CODE" & exec sleep 60`], {
      cwd: COMPANION,
      env: { ...process.env, CODE: holderCode(dir) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = await opened(sh);
    process.kill(pid, 'SIGKILL');
    await expect.poll(() => /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1]).toBe('Z');
    expect(openClose(dir).reason).toContain(`process ${pid} had the database open`);
  });

  it('a running instance is not taken for a crash, and its clean stop does not hide another one killed', async () => {
    const dir = dataDir();
    openClose(dir);
    const running = await holder(dir);
    expect(openClose(dir)).toMatchObject({ kind: 'tables' }); // the holder is alive
    const killed = await holder(dir);
    await kill9(killed);
    const check = openClose(dir);
    expect(check.kind).toBe('full');
    expect(check.reason).toContain(`process ${killed.pid}`);
    await kill9(running);
    expect(openClose(dir).reason).toContain(`process ${running.pid}`);
  });

  it('checks a restored online backup in full, though the instance that made it still runs', async () => {
    const dir = dataDir();
    const s = Store.open(dir);
    const restored = dataDir();
    await s.backup(join(restored, DB_FILE));
    try {
      const check = openClose(restored);
      expect(check.kind).toBe('full');
      expect(check.reason).toMatch(/copied or restored/);
      expect(openClose(restored)).toMatchObject({ kind: 'tables' });
    } finally {
      s.close();
    }
  });

  it('runs the full check once on a file from before the ledger', () => {
    const dir = dataDir();
    openClose(dir);
    const db = new Database(join(dir, DB_FILE));
    // A file as the release before the ledger left it: migrations 9 to 11 undone.
    db.exec(
      'DROP TABLE store_openers; DROP INDEX commands_completed; DROP VIEW telemetry_waiting; DROP TABLE telemetry_fold; DROP TABLE telemetry_inbox',
    );
    db.pragma('user_version = 8');
    db.close();
    expect(openClose(dir)).toMatchObject({ kind: 'full', reason: 'first start with this version' });
    expect(openClose(dir)).toMatchObject({ kind: 'tables' });
  });

  it('refuses a damaged devices table even after a clean stop', () => {
    const dir = dataDir();
    const s = Store.open(dir);
    for (let i = 0; i < 200; i++) s.devices.register(`d-${i}`, { kty: 'EC', crv: 'P-256', x: `x${i}`, y: 'y' });
    s.close();
    damageTable(dir, 'devices');
    expect(() => Store.open(dir)).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
  });

  it('leaves the telemetry tables to `kiln gateway check`, which finds damage there', () => {
    const dir = dataDir();
    const s = Store.open(dir);
    s.devices.register('d-1', { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' });
    s.telemetry.insertMany(
      Array.from({ length: 2000 }, (_, i) => ({ deviceId: 'd-1', bootId: 'b', seq: i, ts: i, metrics: { v: i } })),
    );
    s.telemetry.merge.step(5000); // on to telemetry, the table that grows with the fleet's history
    expect(s.db.prepare('SELECT count(*) AS n FROM telemetry').get()).toEqual({ n: 2000 });
    s.close();
    expect(checkDatabase(join(dir, DB_FILE))).toMatchObject({ ok: true });
    expect(TELEMETRY_TABLES).toContain('telemetry');
    damageTable(dir, 'telemetry');
    expect(openClose(dir)).toMatchObject({ kind: 'tables' }); // a clean start does not read it
    expect(() => checkDatabase(join(dir, DB_FILE))).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
  });

  it('`kiln gateway check` runs beside a running store, whose commits are still only in its WAL', () => {
    const dir = dataDir();
    const s = Store.open(dir);
    try {
      s.db.pragma('wal_autocheckpoint = 0');
      for (let i = 0; i < 300; i++) s.devices.register(`w-${i}`, { kty: 'EC', crv: 'P-256', x: `x${i}`, y: 'y' });
      expect(statSync(join(dir, `${DB_FILE}-wal`)).size).toBeGreaterThan(0);
      expect(checkDatabase(join(dir, DB_FILE))).toMatchObject({ ok: true });
      // and the store goes on writing
      expect(s.devices.register('w-last', { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' })).toBeTruthy();
      expect(s.devices.count()).toBe(301);
    } finally {
      s.close();
    }
  });

  it('`kiln gateway check` on a missing database says where it looked', () => {
    const dir = dataDir();
    expect(() => checkDatabase(join(dir, DB_FILE))).toThrow(
      expect.objectContaining({ code: 'NO_DATABASE', message: expect.stringContaining(dir) }),
    );
  });
});
