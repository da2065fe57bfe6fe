/** `kiln gateway` commands as an operator runs them: help with examples, api-key create, backup, check. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { damageTable, tempDir } from './helpers.ts';

const KILN = fileURLToPath(new URL('../../cli/bin/kiln.js', import.meta.url));
const kiln = (...args: string[]) => {
  const r = spawnSync(process.execPath, [KILN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const dir = tempDir();
afterAll(() => dir.remove());

describe('kiln gateway CLI', () => {
  it('every gateway command has --help with Examples', () => {
    for (const args of [
      ['gateway'],
      ['gateway', 'backup'],
      ['gateway', 'check'],
      ['gateway', 'restore'],
      ['gateway', 'api-key'],
      ['gateway', 'api-key', 'create'],
      ['gateway', 'api-key', 'list'],
      ['gateway', 'api-key', 'revoke'],
    ]) {
      const r = kiln(...args, '--help');
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.out, args.join(' ')).toContain('Examples:');
    }
  });

  it('creates an admin API key printed once, lists it without the secret, backs the database up and restores it', () => {
    const c = kiln('gateway', 'api-key', 'create', '--scope', 'admin', '--data-dir', dir.dir, '--json');
    expect(c.code, c.err).toBe(0);
    const { key, id } = JSON.parse(c.out) as { key: string; id: string };
    expect(key).toMatch(/^kiln_[A-Za-z0-9_-]{43}$/);
    const l = kiln('gateway', 'api-key', 'list', '--data-dir', dir.dir);
    expect(l.out).toContain(id);
    expect(l.out).not.toContain(key);
    const out = join(dir.dir, 'backup.db');
    const b = kiln('gateway', 'backup', out, '--data-dir', dir.dir);
    expect(b.code, b.err).toBe(0);
    expect(existsSync(out)).toBe(true);
    const db = new Database(out, { readonly: true });
    expect(db.prepare('SELECT count(*) AS n FROM api_keys').get()).toEqual({ n: 1 });
    db.close();
    // A key made after the backup is gone once the backup is restored; the audit says who restored what.
    expect(kiln('gateway', 'api-key', 'create', '--scope', 'read', '--data-dir', dir.dir).code).toBe(0);
    const r = kiln('gateway', 'restore', out, '--data-dir', dir.dir);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`kiln gateway restore: ${out}`);
    expect(r.out).toMatch(/the database it replaced, with its WAL: .*gateway\.db\.replaced-/);
    const restored = new Database(join(dir.dir, 'gateway.db'), { readonly: true });
    expect(restored.prepare('SELECT count(*) AS n FROM api_keys').get()).toEqual({ n: 1 });
    expect(restored.prepare("SELECT target FROM audit WHERE action = 'gateway.restore'").all()).toEqual([
      { target: out },
    ]);
    restored.close();
  });

  it('`gateway check` reads the whole file: ok (exit 0), damaged (exit 6), missing (exit 2)', () => {
    const d = tempDir();
    try {
      expect(kiln('gateway', 'api-key', 'create', '--scope', 'read', '--data-dir', d.dir).code).toBe(0);
      const ok = kiln('gateway', 'check', '--data-dir', d.dir, '--json');
      expect(ok.code, ok.err).toBe(0);
      expect(JSON.parse(ok.out)).toMatchObject({ ok: true, pages: expect.any(Number) });
      damageTable(d.dir, 'api_keys');
      const bad = kiln('gateway', 'check', '--data-dir', d.dir);
      expect(bad.code).toBe(6);
      expect(bad.err).toContain('STORE_CORRUPT');
      expect(bad.err).toContain('restore the last backup');
      const missing = kiln('gateway', 'check', '--data-dir', join(d.dir, 'nowhere'));
      expect(missing.code).toBe(2);
      expect(missing.err).toContain(`no gateway database at ${join(d.dir, 'nowhere', 'gateway.db')}`);
    } finally {
      d.remove();
    }
  });

  it('refuses a public bind without --allow-public-bind (exit 2, says what to do)', () => {
    const r = kiln('gateway', '--listen', '0.0.0.0:0', '--data-dir', dir.dir);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--allow-public-bind');
  });

  it('refuses a port that is taken (exit 2), saying which address and which flag to change', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = `127.0.0.1:${(holder.address() as AddressInfo).port}`;
    try {
      const web = kiln('gateway', '--listen', taken, '--mqtt-listen', '127.0.0.1:0', '--data-dir', dir.dir);
      expect(web.code, web.err).toBe(2);
      expect(web.err).toContain(`cannot listen on ${taken}: the port is in use [LISTEN_FAILED]`);
      expect(web.err).toContain('--listen');
      const mqtt = kiln('gateway', '--listen', '127.0.0.1:0', '--mqtt-listen', taken, '--data-dir', dir.dir);
      expect(mqtt.code, mqtt.err).toBe(2);
      expect(mqtt.err).toContain(`cannot listen on ${taken}`);
      expect(mqtt.err).toContain('--mqtt-listen');
    } finally {
      holder.close();
    }
  });

  it('refuses a bad --scope (exit 2)', () => {
    expect(kiln('gateway', 'api-key', 'create', '--scope', 'root', '--data-dir', dir.dir).code).toBe(2);
  });
});
