import { createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerDevice, startTestGateway, TestDevice, tempDir } from './helpers.ts';
import { kilnAgainst } from './operator-helpers.ts';

let t: Awaited<ReturnType<typeof startTestGateway>>;
let admin: string;
let reader: string;
const home = tempDir('kiln-cli-home-');
const live: TestDevice[] = [];

/** Runs kiln against the test gateway, as the admin unless `env` says otherwise. */
const kiln = (args: string[], opts: Parameters<typeof kilnAgainst>[4] = {}) =>
  kilnAgainst(t.gw, home.dir, admin, args, opts);

beforeAll(async () => {
  t = await startTestGateway({ limits: { restRequestsPerMinPerRoute: 10_000, authFailuresPerMinPerIp: 10_000 } });
  admin = t.gw.store.apiKeys.create('admin', 'admin').key;
  reader = t.gw.store.apiKeys.create('reader', 'read').key;
  for (const id of ['cli-a1', 'cli-a2', 'cli-b1']) await registerDevice(t.gw, id);
  const keys = await registerDevice(t.gw, 'cli-live');
  const d = await TestDevice.connect(t.gw, t.ca, 'cli-live', keys.priv);
  live.push(d);
  d.hello('cli-live');
  await d.next('welcome');
  const now = Date.now();
  t.gw.store.telemetry.insertMany(
    Array.from({ length: 30 }, (_, i) => ({
      deviceId: 'cli-a1',
      bootId: 'b00710aa',
      seq: i,
      ts: now - 30 * 60_000 + i * 60_000,
      metrics: { temp: 20 + i / 10, wifi_rssi: -60 },
    })),
  );
});
afterAll(async () => {
  for (const d of live) d.close();
  await t?.stop();
  home.remove();
});

/** A table: every column's cells start at one offset (text) or end at one offset (numbers). */
function expectAligned(text: string): string[][] {
  const lines = text.trimEnd().split('\n');
  const cells = lines.map((l) => [...l.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ text: m[0], start: m.index ?? 0 })));
  const columns = cells[0]?.length ?? 0;
  for (const row of cells) expect(row.length, text).toBe(columns);
  for (let i = 0; i < columns; i++) {
    const starts = new Set(cells.map((r) => r[i]?.start));
    const ends = new Set(cells.map((r) => (r[i]?.start ?? 0) + (r[i]?.text.length ?? 0)));
    expect(starts.size === 1 || ends.size === 1, `column ${i} of\n${text}`).toBe(true);
  }
  return cells.map((r) => r.map((c) => c.text));
}

describe('kiln devices/telemetry: help', () => {
  it('has --help with Examples for every command, and documents the exit codes', async () => {
    const runs = await Promise.all(
      [
        ['devices'],
        ['devices', 'list'],
        ['devices', 'show'],
        ['devices', 'revoke'],
        ['devices', 'rotate'],
        ['telemetry'],
        ['telemetry', 'tail'],
        ['telemetry', 'query'],
      ].map(async (args) => ({ args, r: await kiln([...args, '--help']) })),
    );
    for (const { args, r } of runs) {
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.out, args.join(' ')).toContain('Examples:');
      expect(r.out, args.join(' ')).toContain('Exit codes: 0 ok, 2 usage');
      expect(r.out, args.join(' ')).toContain('KILN_API_KEY');
    }
  }, 90_000);
});

describe('kiln devices', () => {
  it('lists devices as an aligned table and as one JSON document, with filters', async () => {
    const [tableRun, json, filtered, online] = await Promise.all([
      kiln(['devices', 'list']),
      kiln(['devices', 'list', '--json']),
      kiln(['devices', 'list', '-q', 'cli-a', '--json'], { env: { KILN_API_KEY: reader } }),
      kiln(['devices', 'list', '--state', 'online']),
    ]);
    expect(tableRun.code, tableRun.err).toBe(0);
    const rows = expectAligned(tableRun.out);
    expect(rows[0]).toEqual(['ID', 'STATE', 'ONLINE', 'CHIP', 'FIRMWARE', 'RSSI', 'RECONNECTS', 'LAST SEEN']);
    expect(rows.slice(1).map((r) => r[0])).toEqual(['cli-a1', 'cli-a2', 'cli-b1', 'cli-live']);
    expect(rows.find((r) => r[0] === 'cli-live')).toEqual([
      'cli-live',
      'online',
      'yes',
      'esp32',
      'kiln-fw 1.0.0',
      '-',
      '0',
      expect.stringMatching(/^\d+s ago$/),
    ]);
    // The RSSI the device reported (wifi_rssi) is a column.
    expect(rows.find((r) => r[0] === 'cli-a1')?.[5]).toBe('-60');
    expect(json.code, json.err).toBe(0);
    const doc = JSON.parse(json.out) as { devices: { id: string; rssi: number | null }[]; total: number };
    expect(doc.total).toBe(4);
    expect(doc.devices.find((d) => d.id === 'cli-a1')?.rssi).toBe(-60);
    expect((JSON.parse(filtered.out) as { devices: { id: string }[] }).devices.map((d) => d.id)).toEqual([
      'cli-a1',
      'cli-a2',
    ]);
    expect(online.out.trimEnd().split('\n').slice(1)).toHaveLength(1);
    expect(online.out).toContain('cli-live');
  }, 90_000);

  it('shows one device as text and JSON; an unknown device exits 6 and says how to find the right id', async () => {
    const [text, json, missing] = await Promise.all([
      kiln(['devices', 'show', 'cli-live']),
      kiln(['devices', 'show', 'cli-live', '--json']),
      kiln(['devices', 'show', 'cli-nope']),
    ]);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/^id:\s+cli-live$/m);
    expect(text.out).toMatch(/^online:\s+yes$/m);
    expect(text.out).toMatch(/^firmware:\s+kiln-fw 1\.0\.0$/m);
    expect(JSON.parse(json.out)).toMatchObject({ id: 'cli-live', state: 'online', online: true, reconnects: 0 });
    expect(missing.code).toBe(6);
    expect(missing.err).toContain('no device cli-nope at the gateway [NO_SUCH_DEVICE]');
    expect(missing.err).toContain('kiln devices list');
  }, 90_000);

  it('revokes only after confirmation: without a terminal it needs --yes; the live session is closed', async () => {
    const refused = await kiln(['devices', 'revoke', 'cli-live']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('--yes');
    expect(t.gw.store.devices.get('cli-live')?.state).toBe('online');
    const denied = await kiln(['devices', 'revoke', 'cli-live', '--yes'], { env: { KILN_API_KEY: reader } });
    expect(denied.code).toBe(6);
    expect(denied.err).toContain('admin');
    const ok = await kiln(['devices', 'revoke', 'cli-live', '--yes', '--json']);
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ id: 'cli-live', state: 'revoked' });
    expect(await live[0]?.closed()).toBe(4003);
  }, 90_000);

  it('rotates a key from a JWK or a PEM file, and refuses a file that is not a P-256 public key', async () => {
    const keys = await registerDevice(t.gw, 'cli-rot');
    const fresh = await registerDevice(t.gw, 'cli-rot-src'); // only for a second key pair
    const jwkFile = join(home.dir, 'new.jwk');
    writeFileSync(jwkFile, JSON.stringify(fresh.pub));
    const pemFile = join(home.dir, 'old.pem');
    writeFileSync(
      pemFile,
      createPublicKey({ key: keys.pub as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }),
    );
    const badFile = join(home.dir, 'bad.pem');
    writeFileSync(badFile, 'not a key');
    const viaJwk = await kiln(['devices', 'rotate', 'cli-rot', '--key', jwkFile, '--yes']);
    expect(viaJwk.code, viaJwk.err).toBe(0);
    expect(viaJwk.out).toContain('rotated the key of cli-rot');
    expect(t.gw.store.devices.get('cli-rot')?.publicKeyJwk.x).toBe(fresh.pub.x);
    const viaPem = await kiln(['devices', 'rotate', 'cli-rot', '--key', pemFile, '--yes', '--json']);
    expect(viaPem.code, viaPem.err).toBe(0);
    expect(JSON.parse(viaPem.out)).toMatchObject({ id: 'cli-rot', publicKey: { x: keys.pub.x } });
    const bad = await kiln(['devices', 'rotate', 'cli-rot', '--key', badFile, '--yes']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('[BAD_KEY_FILE]');
  }, 90_000);
});

describe('kiln devices: error paths', () => {
  it('says what to do: no key (2), a refused key (6), an unreachable gateway (6), an untrusted CA (6), a key in argv (2)', async () => {
    // A port nothing listens on: taken from the kernel, then let go.
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const [noKey, wrongKey, down, untrusted, argvKey, badUrl] = await Promise.all([
      kiln(['devices', 'list'], { env: { KILN_API_KEY: undefined } }),
      kiln(['devices', 'list'], { env: { KILN_API_KEY: 'kiln_wrong' } }),
      kiln(['devices', 'list'], { env: { KILN_GATEWAY: `https://127.0.0.1:${closed}` } }),
      kiln(['devices', 'list'], { env: { KILN_CA: undefined } }),
      kiln(['devices', 'list', '--api-key', admin]),
      kiln(['devices', 'list', '--gateway', 'not a url']),
    ]);
    expect(noKey.code).toBe(2);
    expect(noKey.err).toContain('set KILN_API_KEY, or pass --api-key-file');
    expect(wrongKey.code).toBe(6);
    expect(wrongKey.err).toContain('the API key was refused: check KILN_API_KEY');
    expect(down.code).toBe(6);
    expect(down.err).toContain(`cannot reach the gateway at https://127.0.0.1:${closed}`);
    expect(down.err).toContain('is the gateway running');
    expect(untrusted.code).toBe(6);
    expect(untrusted.err).toContain('--ca');
    expect(argvKey.code).toBe(2);
    expect(argvKey.err).toContain("unknown option '--api-key'");
    expect(`${argvKey.out}${argvKey.err}`).not.toContain(admin);
    expect(badUrl.code).toBe(2);
  }, 90_000);

  it('reads the key from --api-key-file', async () => {
    const file = join(home.dir, 'reader.key');
    writeFileSync(file, `${reader}\n`, { mode: 0o600 });
    const r = await kiln(['devices', 'list', '--json', '--api-key-file', file], { env: { KILN_API_KEY: undefined } });
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { total: number }).total).toBeGreaterThan(0);
    const missing = await kiln(['devices', 'list', '--api-key-file', join(home.dir, 'nope')]);
    expect(missing.code).toBe(2);
  }, 90_000);
});

describe('kiln telemetry query', () => {
  it('reads raw samples, one metric, and buckets, as tables and JSON; checks its flags', async () => {
    const [raw, one, buckets, json, badFrom, needsMetric, missing] = await Promise.all([
      kiln(['telemetry', 'query', '--device', 'cli-a1', '--from', '2h']),
      kiln(['telemetry', 'query', '--device', 'cli-a1', '--metric', 'temp', '--from', '10m']),
      kiln(['telemetry', 'query', '--device', 'cli-a1', '--metric', 'temp', '--from', '1h', '--bucket', '10m']),
      kiln(['telemetry', 'query', '--device', 'cli-a1', '--metric', 'temp', '--bucket', '600s', '--json']),
      kiln(['telemetry', 'query', '--device', 'cli-a1', '--from', 'yesterday-ish']),
      kiln(['telemetry', 'query', '--device', 'cli-a1', '--bucket', '60s']),
      kiln(['telemetry', 'query', '--device', 'cli-zz']),
    ]);
    expect(raw.code, raw.err).toBe(0);
    const rawRows = expectAligned(raw.out);
    expect(rawRows[0]).toEqual(['TIME', 'SEQ', 'TEMP', 'WIFI_RSSI']);
    expect(rawRows).toHaveLength(31);
    expect(rawRows[1]?.slice(1)).toEqual(['0', '20', '-60']);
    expect(one.code, one.err).toBe(0);
    const oneRows = expectAligned(one.out);
    expect(oneRows[0]).toEqual(['TIME', 'SEQ', 'TEMP']);
    expect(oneRows.length - 1).toBeGreaterThanOrEqual(9);
    expect(oneRows.length - 1).toBeLessThanOrEqual(11);
    expect(buckets.code, buckets.err).toBe(0);
    const bucketRows = expectAligned(buckets.out);
    expect(bucketRows[0]).toEqual(['TIME', 'COUNT', 'MIN', 'AVG', 'MAX']);
    expect(bucketRows.slice(1).reduce((n, r) => n + Number(r[1]), 0)).toBe(30);
    const doc = JSON.parse(json.out) as { deviceId: string; bucketSec: number; points: { count: number }[] };
    expect(doc).toMatchObject({ deviceId: 'cli-a1', bucketSec: 600, metric: 'temp' });
    expect(doc.points.reduce((n, p) => n + p.count, 0)).toBe(30);
    expect(badFrom.code).toBe(2);
    expect(badFrom.err).toContain('[BAD_TIME]');
    expect(needsMetric.code).toBe(2);
    expect(needsMetric.err).toContain('--bucket needs --metric');
    expect(missing.code).toBe(6);
    expect(missing.err).toContain('no device cli-zz');
  }, 90_000);
});

describe('kiln telemetry tail', () => {
  it('follows live telemetry of one device over the stream: JSON lines, filtered, and a table', async () => {
    const keys = await registerDevice(t.gw, 'cli-tail');
    const other = await registerDevice(t.gw, 'cli-other');
    const d = await TestDevice.connect(t.gw, t.ca, 'cli-tail', keys.priv);
    const o = await TestDevice.connect(t.gw, t.ca, 'cli-other', other.priv);
    live.push(d, o);
    d.hello('cli-tail');
    o.hello('cli-other');
    await d.next('welcome');
    await o.next('welcome');
    // The devices keep sending until the tails have what they wait for.
    let n = 0;
    const pump = setInterval(() => {
      n++;
      o.send({ type: 'telemetry', ts: Date.now(), metrics: { temp: 99 } });
      d.send({ type: 'telemetry', ts: Date.now(), metrics: { temp: 20 + n, hum: 40 } });
    }, 50);
    try {
      const [json, tableRun] = await Promise.all([
        kiln(['telemetry', 'tail', '--device', 'cli-tail', '--metric', 'temp', '--count', '3', '--json'], {
          env: { KILN_API_KEY: reader },
        }),
        kiln(['telemetry', 'tail', '--device', 'cli-tail', '--count', '2']),
      ]);
      expect(json.code, json.err).toBe(0);
      const frames = json.out
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; deviceId: string; metrics?: Record<string, number> });
      const tel = frames.filter((f) => f.type === 'telemetry');
      expect(tel).toHaveLength(3);
      for (const f of tel) {
        expect(f.deviceId).toBe('cli-tail');
        expect(Object.keys(f.metrics ?? {})).toEqual(['temp']);
      }
      expect(tableRun.code, tableRun.err).toBe(0);
      const lines = tableRun.out.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}cli-tail {2,}temp=\d+ hum=40$/);
      expect(tableRun.err).toContain('following cli-tail');
    } finally {
      clearInterval(pump);
    }
  }, 90_000);

  it('says when a followed device is deleted', async () => {
    await registerDevice(t.gw, 'cli-gone');
    let said = '';
    let deleted = false;
    const run = await kiln(['telemetry', 'tail', '--device', 'cli-gone'], {
      // Deleted once the tail follows it (it says so after the gateway confirmed the
      // subscription), then Ctrl+C once the tail said so.
      onStart: (child) => {
        child.stderr?.on('data', (c: Buffer) => {
          said += c;
          if (!deleted && said.includes('following')) {
            deleted = true;
            void api(t.gw, t.ca, 'DELETE', '/api/v1/devices/cli-gone', { key: admin });
          }
          if (said.includes('was deleted')) child.kill('SIGINT');
        });
      },
    });
    expect(run.code, run.err).toBe(0);
    expect(run.err).toMatch(/Z {2}cli-gone {2,}was deleted\n/);
  }, 90_000);

  it('stops cleanly on Ctrl+C (exit 0), and exits 6 for an unknown device or a refused key', async () => {
    const interrupted = await kiln(['telemetry', 'tail'], {
      // Ctrl+C once it follows (it says so on stderr after the gateway confirmed the subscription).
      onStart: (child) => {
        let said = '';
        child.stderr?.on('data', (c: Buffer) => {
          said += c;
          if (said.includes('following')) child.kill('SIGINT');
        });
      },
    });
    expect(interrupted.code, interrupted.err).toBe(0);
    expect(interrupted.err).toContain('following every device');
    const [missing, refused] = await Promise.all([
      kiln(['telemetry', 'tail', '--device', 'cli-none']),
      kiln(['telemetry', 'tail'], { env: { KILN_API_KEY: 'kiln_wrong' } }),
    ]);
    expect(missing.code).toBe(6);
    expect(missing.err).toContain('no device cli-none');
    expect(refused.code).toBe(6);
    expect(refused.err).toContain('the API key was refused: check KILN_API_KEY');
  }, 90_000);
});
