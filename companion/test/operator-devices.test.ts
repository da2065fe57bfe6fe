/**
 * The devices table as the dashboard and `kiln devices list` read it: search, filters, keyset
 * paging and a total over 1,200 devices in real SQLite, and the operator's columns (online,
 * RSSI from telemetry, reconnects counted by the gateway) fed by real device sessions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceView } from '../src/cli/devices.ts';
import { api, deviceKeys, registerDevice, startTestGateway, TestDevice } from './helpers.ts';

let t: Awaited<ReturnType<typeof startTestGateway>>;
let reader: string;
const FLEET = 1200;
const CHIPS = ['esp32', 'esp32s3', 'esp32c3'] as const;

interface Page {
  devices: DeviceView[];
  next: string | null;
  total: number;
}

beforeAll(async () => {
  t = await startTestGateway({ limits: { restRequestsPerMinPerRoute: 10_000 } });
  reader = t.gw.store.apiKeys.create('reader', 'read').key;
  const { pub } = await deviceKeys();
  const { devices } = t.gw.store;
  t.gw.store.db.transaction(() => {
    for (let i = 0; i < FLEET; i++) {
      const id = `fleet-${String(i).padStart(4, '0')}`;
      devices.register(id, pub);
      const mac = `24:0a:c4:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      devices.markSeen(id, 'offline', {
        chip: CHIPS[i % 3],
        mac,
        firmware: { name: i % 2 ? 'thermo' : 'relay', version: '1.2.3' },
      });
    }
  })();
  devices.flushPresence();
});
afterAll(async () => t?.stop());

const list = async (query: string): Promise<Page> => {
  const r = await api(t.gw, t.ca, 'GET', `/api/v1/devices${query}`, { key: reader });
  expect(r.status, r.text).toBe(200);
  return r.body as Page;
};

describe('devices list: search, filters, paging', () => {
  it('pages through 1,200 devices in id order with next/after (or cursor), with the total', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page: Page = await list(`?limit=500${after ? `&${pages % 2 ? 'cursor' : 'after'}=${after}` : ''}`);
      expect(page.total).toBe(FLEET);
      seen.push(...page.devices.map((d) => d.id));
      after = page.next;
      pages++;
    } while (after);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(FLEET);
    expect(seen).toEqual([...seen].sort());
  });

  it('searches ids, MACs and firmware names (q), and filters by chip and state, combined', async () => {
    const byId = await list('?q=fleet-011');
    expect(byId.devices.map((d) => d.id)).toEqual(Array.from({ length: 10 }, (_, i) => `fleet-011${i}`));
    expect(byId.total).toBe(10);
    const byMac = await list('?q=00:04:a0');
    expect(byMac.devices.map((d) => d.id)).toEqual([`fleet-${0x4a0}`]);
    const byMacUpper = await list('?q=00:04:A0');
    expect(byMacUpper.total).toBe(1);
    const thermoS3 = await list('?q=thermo&chip=esp32s3&limit=1000');
    expect(thermoS3.total).toBe(200); // odd i (thermo) with i % 3 == 1 (esp32s3)
    for (const d of thermoS3.devices) expect([d.chip, d.firmware?.name]).toEqual(['esp32s3', 'thermo']);
    expect((await list('?state=offline&limit=1')).total).toBe(FLEET);
    expect((await list('?state=online')).total).toBe(0);
    // LIKE wildcards in a search are literal.
    expect((await list('?q=%25')).total).toBe(0);
    expect((await list('?q=fleet_')).total).toBe(0);
  });

  it('refuses bad filters with VALIDATION_FAILED', async () => {
    for (const q of ['?chip=esp8266', '?state=lost', '?limit=0', '?limit=1001', `?q=${'x'.repeat(65)}`, '?after=A!']) {
      const r = await api(t.gw, t.ca, 'GET', `/api/v1/devices${q}`, { key: reader });
      expect([r.status, (r.body as { error: { code: string } }).error.code], q).toEqual([400, 'VALIDATION_FAILED']);
    }
  });

  it('answers the list from indexed SQL: the chip filter and id paging use indexes', () => {
    const plan = (sql: string) =>
      (t.gw.store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('esp32', 'fleet-0100', 100) as { detail: string }[])
        .map((r) => r.detail)
        .join('; ');
    expect(plan('SELECT * FROM devices WHERE chip = ? AND id > ? ORDER BY id LIMIT ?')).toMatch(
      /USING INDEX devices_chip/,
    );
  });
});

describe('devices list: the operator columns from real sessions', () => {
  it('shows online, the last RSSI the device reported, and reconnects after the first session', async () => {
    const keys = await registerDevice(t.gw, 'live-rssi');
    for (let session = 0; session < 3; session++) {
      const d = await TestDevice.connect(t.gw, t.ca, 'live-rssi', keys.priv);
      d.hello('live-rssi', `b00710a${session}`);
      await d.next('welcome');
      if (session === 2) {
        const now = Date.now();
        d.send({ type: 'telemetry', ts: now - 1000, metrics: { temp: 20, wifi_rssi: -61 } });
        d.send({ type: 'telemetry', ts: now, metrics: { temp: 21, wifi_rssi: -58 } });
        d.send({ type: 'telemetry', ts: now + 1, metrics: { temp: 22 } }); // no RSSI: the last one stays
        await d.next('ack');
        // The column is written at most every 2 s (telemetry-writer-thread.ts).
        await expect
          .poll(async () => (await list('?q=live-rssi')).devices[0]?.rssi, { timeout: 5000, interval: 100 })
          .toBe(-58);
        const [item] = (await list('?q=live-rssi&state=online')).devices;
        expect(item).toMatchObject({ id: 'live-rssi', state: 'online', online: true, reconnects: 2, rssiAt: now });
        expect(Math.abs((item?.lastSeenAt as number) - Date.now())).toBeLessThan(5000);
        const one = await api(t.gw, t.ca, 'GET', '/api/v1/devices/live-rssi', { key: reader });
        expect(one.body).toMatchObject({
          rssi: -58,
          reconnects: 2,
          online: true,
          chip: 'esp32',
          firmware: { version: '1.0.0' },
        });
      }
      d.ws.close(1000);
      await d.closed();
    }
    await expect.poll(async () => (await list('?q=live-rssi')).devices[0]?.online).toBe(false);
    expect((await list('?q=live-rssi')).devices[0]).toMatchObject({ state: 'offline', reconnects: 2, rssi: -58 });
  });
});
