/**
 * The live dashboard in real Chromium against a real gateway and a device speaking kiln.v1
 * over WSS with its own ES256 key: the devices table follows the operator stream (a device
 * coming online, its RSSI, going offline, deleted); the device page's chart redraws as telemetry
 * arrives; a command sent with a click reaches the device and its result shows on the page;
 * the telemetry interval is device configuration (PUT …/config), and a change made elsewhere shows
 * on the open page from the stream; the device gets a `config`
 * message at once, or the value in its next welcome, and the page says which; history loads downsampled; revoke asks first and cuts the device off. Screenshots go to
 * test-artifacts/.
 */
import { CloseCode } from '@kiln/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { api, deviceKeys, registerDevice, TestDevice } from '../helpers.ts';
import {
  artifactPath,
  dashboardGateway,
  launchChromium,
  newContext,
  onlineDevice,
  openPage,
  signIn,
} from './browser.ts';

let t: Awaited<ReturnType<typeof dashboardGateway>> | undefined;
let browser: Browser | undefined;
const devices: TestDevice[] = [];

beforeEach(async () => {
  t = await dashboardGateway();
  browser = await launchChromium();
});
afterEach(async () => {
  for (const d of devices.splice(0)) d.close();
  await browser?.close();
  await t?.stop();
  browser = undefined;
  t = undefined;
});

const setup = () => {
  if (!t || !browser) throw new Error('setup failed');
  return { t, browser };
};

/** The draw counter uPlot's draw hook keeps on a chart's figure. */
const draws = async (page: Page, metric: string) =>
  Number(await page.locator(`figure[data-metric="${metric}"]`).getAttribute('data-draws'));

describe('live dashboard', () => {
  it('updates the devices table from the operator stream', async () => {
    const { t, browser } = setup();
    await registerDevice(t.gw, 'table-dev-2');
    const { page, problems } = await openPage(await newContext(browser));
    await signIn(page, t.gw.baseUrl, t.keys.read);
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'table-dev-2' }) });
    await row.getByText('Registered').waitFor();

    // The device connects after the page loaded: no reload, the stream says so.
    const dev = await onlineDevice(t, 'table-dev-9', { chip: 'esp32c3', version: '2.0.1' });
    devices.push(dev);
    const online = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'table-dev-9' }) });
    await online.getByText('Online').waitFor();
    await online.getByText('kiln-fw 2.0.1').waitFor();
    await online.getByText('esp32c3').waitFor();
    dev.send({ type: 'telemetry', ts: Date.now(), metrics: { rssi: -61, temp: 20.5 } });
    await online.getByText('-61 dBm').waitFor();
    await page.screenshot({ path: artifactPath('dashboard-devices.png'), fullPage: true });

    // Filters: by state, then by search text.
    await page.getByLabel('State').selectOption('online');
    await expect.poll(() => page.locator('#devices-table tbody tr').count()).toBe(1);
    await page.getByLabel('State').selectOption('');
    await expect.poll(() => page.locator('#devices-table tbody tr').count()).toBe(2);
    await page.getByLabel('Search').fill('dev-2');
    await expect.poll(() => page.locator('#devices-table tbody tr').count()).toBe(1);
    await page.getByRole('rowheader', { name: 'table-dev-2' }).waitFor();
    await page.getByLabel('Search').fill('');

    dev.close();
    await online.getByText('Offline').waitFor();

    // Deleted elsewhere (the CLI, the API, another instance): the row goes without a reload,
    // and a page open on the device says so.
    expect((await api(t.gw, t.ca, 'DELETE', '/api/v1/devices/table-dev-2', { key: t.keys.admin })).status).toBe(204);
    await expect.poll(() => page.locator('#devices-table tbody tr').count()).toBe(1);
    await page.getByRole('rowheader', { name: 'table-dev-2' }).waitFor({ state: 'detached' });
    await page.evaluate("location.hash = '#/devices/table-dev-9'");
    await page.locator('#device-title', { hasText: 'table-dev-9' }).waitFor();
    expect((await api(t.gw, t.ca, 'DELETE', '/api/v1/devices/table-dev-9', { key: t.keys.admin })).status).toBe(204);
    await page.getByRole('alert').filter({ hasText: 'This device was deleted at' }).waitFor();
    expect(problems).toEqual([]);
  });

  it('charts telemetry as the device sends it and round-trips commands from a click', async () => {
    const { t, browser } = setup();
    const dev = await onlineDevice(t, 'live-dev-1');
    devices.push(dev);
    const { page, problems } = await openPage(await newContext(browser));
    await signIn(page, t.gw.baseUrl, t.keys.operate);
    await page.getByRole('link', { name: 'live-dev-1', exact: true }).click();
    await page.getByRole('heading', { name: 'live-dev-1', level: 1 }).waitFor();
    await page.getByText('Waiting for telemetry').waitFor();

    // Samples sent now show up in the chart: its point count and draw counter go up.
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) dev.send({ type: 'telemetry', ts: t0 + i * 100, metrics: { temp: 20 + i } });
    await page.getByText('temp: latest 24 at').waitFor();
    await page.getByText('5 samples in view').waitFor();
    const before = await draws(page, 'temp');
    expect(before).toBeGreaterThan(0);
    dev.send({ type: 'telemetry', ts: t0 + 600, metrics: { temp: 31.5 } });
    await page.getByText('temp: latest 31.5 at').waitFor();
    expect(await draws(page, 'temp')).toBeGreaterThan(before);
    await page.screenshot({ path: artifactPath('dashboard-device-live.png'), fullPage: true });

    // Identify: the click creates the command, the gateway delivers it, the device answers.
    await page.getByRole('button', { name: 'Identify' }).click();
    const cmd = await dev.next('command');
    expect(cmd.name).toBe('identify');
    dev.send({ type: 'command_result', id: cmd.id, status: 'ok', result: { seconds: 10 } });
    await page.getByRole('status').filter({ hasText: 'identify: ok — {"seconds":10}' }).waitFor();
    const cmdRow = page.locator(`#commands-table tr[data-command="${cmd.id}"]`);
    await cmdRow.getByText('{"seconds":10}').waitFor();

    // Reboot: a device that refuses says why, in the same status line.
    await page.getByRole('button', { name: 'Reboot' }).click();
    const reboot = await dev.next('command');
    expect(reboot.name).toBe('reboot');
    dev.send({ type: 'command_result', id: reboot.id, status: 'error', error: 'reboot locked by policy' });
    await page.getByRole('status').filter({ hasText: 'reboot: error — reboot locked by policy' }).waitFor();
    await page.screenshot({ path: artifactPath('dashboard-device-command.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('sets the telemetry interval as device configuration: now on a live device, at the next connection otherwise', async () => {
    const { t, browser } = setup();
    const fallback = t.gw.config.limits.telemetrySec;
    const keys = await registerDevice(t.gw, 'cfg-dev-1');
    const connect = async () => {
      const dev = await TestDevice.connect(t.gw, t.ca, 'cfg-dev-1', keys.priv);
      devices.push(dev);
      dev.hello('cfg-dev-1');
      return { dev, welcome: await dev.next('welcome') };
    };
    const first = await connect();
    expect(first.welcome.telemetrySec).toBe(fallback);
    const { page, problems } = await openPage(await newContext(browser));
    await signIn(page, t.gw.baseUrl, t.keys.operate);
    await page.goto(`${t.gw.baseUrl}/#/devices/cfg-dev-1`);
    await page.getByRole('heading', { name: 'cfg-dev-1', level: 1 }).waitFor();
    // The outcome is announced in the commands panel's status region (role=status).
    const said = (text: string | RegExp) => page.getByRole('status').filter({ hasText: text }).waitFor();
    const interval = page.getByLabel('Telemetry interval (seconds)');
    // The field starts at the interval in force: the gateway's default for this device.
    await expect.poll(() => interval.inputValue()).toBe(String(fallback));

    // Live device: the gateway sends it a config message at once, the page says so.
    await interval.fill('30');
    await page.getByRole('button', { name: 'Set interval' }).click();
    expect(await first.dev.next('config')).toMatchObject({ type: 'config', telemetrySec: 30 });
    await said('telemetry every 30 s — applied now');
    // Configuration, not a command: nothing is added to the commands table.
    expect(await page.locator('#commands-table tbody tr').count()).toBe(0);

    // From the keyboard: an out-of-range value is refused by the form's own validation and
    // never sent; Enter in the field submits the next one, the first config the device sees.
    await interval.fill('0');
    await interval.press('Enter');
    expect(await page.evaluate("document.getElementById('interval-sec').validationMessage")).toMatch(/1/);
    await interval.fill('7');
    await interval.press('Enter');
    expect(await first.dev.next('config')).toMatchObject({ telemetrySec: 7 });
    await said('telemetry every 7 s — applied now');

    // Offline: the gateway keeps the value and the next session's welcome carries it.
    first.dev.close();
    await expect.poll(() => page.locator('#device-facts dd').first().textContent()).toBe('Offline');
    await interval.fill('45');
    await page.getByRole('button', { name: 'Set interval' }).click();
    await said('telemetry every 45 s — applied at next connection');
    const second = await connect();
    expect(second.welcome.telemetrySec).toBe(45);

    // A reloaded page shows the interval in force, read back from the gateway.
    await page.reload();
    await page.getByRole('heading', { name: 'cfg-dev-1', level: 1 }).waitFor();
    await expect.poll(() => interval.inputValue()).toBe('45');
    // The reloaded page's operator stream is open (the gateway sends it events from then on).
    await page.locator('#stream-state[data-state="live"]').waitFor();

    // A change made elsewhere (another operator, here the API) shows on the open page at once,
    // from the operator stream's config event, with no reload.
    const elsewhere = await api(t.gw, t.ca, 'PUT', '/api/v1/devices/cfg-dev-1/config', {
      key: t.keys.operate,
      body: { telemetrySec: 12 },
    });
    expect(elsewhere.status).toBe(200);
    await expect.poll(() => interval.inputValue()).toBe('12');
    expect(await second.dev.next('config')).toMatchObject({ telemetrySec: 12 });

    // A refusal from the gateway is shown in the same status line, with its reason.
    const revoked = await api(t.gw, t.ca, 'POST', '/api/v1/devices/cfg-dev-1/revoke', { key: t.keys.admin });
    expect(revoked.status).toBe(200);
    await interval.fill('20');
    await page.getByRole('button', { name: 'Set interval' }).click();
    await said(/The telemetry interval was not changed: .*revoked/);
    expect(t.gw.store.devices.configOf('cfg-dev-1')).toMatchObject({ telemetrySec: 12 });
    await page.screenshot({ path: artifactPath('dashboard-device-interval.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('loads downsampled history for a chosen time range', async () => {
    const { t, browser } = setup();
    const dev = await onlineDevice(t, 'hist-dev-1');
    devices.push(dev);
    // Two minutes of samples, one a second, sent as batches and stored by the gateway.
    const start = Date.now() - 120_000;
    for (let b = 0; b < 4; b++) {
      dev.send({
        type: 'telemetry_batch',
        samples: Array.from({ length: 30 }, (_, i) => ({
          seq: 1000 + b * 30 + i,
          ts: start + (b * 30 + i) * 1000,
          metrics: { temp: b * 30 + i },
        })),
      });
      await dev.next('ack');
    }
    const { page, problems } = await openPage(await newContext(browser));
    await signIn(page, t.gw.baseUrl, t.keys.read);
    await page.goto(`${t.gw.baseUrl}/#/devices/hist-dev-1`);
    await page.getByRole('heading', { name: 'hist-dev-1', level: 1 }).waitFor();
    // The live window starts with the stored recent past.
    await page.getByText('120 samples in view').waitFor();
    // A read key watches: commands and the interval are there, disabled, and the page says why.
    for (const control of [
      page.getByRole('button', { name: 'Identify' }),
      page.getByRole('button', { name: 'Reboot' }),
      page.getByLabel('Telemetry interval (seconds)'),
      page.getByRole('button', { name: 'Set interval' }),
    ])
      expect(await control.isDisabled()).toBe(true);
    await page.getByRole('status').filter({ hasText: 'need an operate or admin key' }).waitFor();

    await page.getByRole('radio', { name: 'History' }).check();
    await page.getByLabel('Time range').selectOption('900000');
    await page.getByLabel('Downsampling').selectOption('60');
    await page.getByRole('button', { name: 'Load history' }).click();
    await page.getByText('120 samples in 60 s buckets').waitFor();
    const caption = await page.locator('figure[data-metric="temp"] figcaption').textContent();
    // 120 s of samples fall into two or three minute buckets, depending on alignment.
    expect(caption).toMatch(/^temp: [23] buckets of 60 s/);

    await page.getByLabel('Downsampling').selectOption('0');
    await page.getByRole('button', { name: 'Load history' }).click();
    await page.getByText('temp: 120 raw samples').waitFor();
    expect(problems).toEqual([]);
  });

  it('rotates and revokes a device only after confirmation, and the audit log shows both', async () => {
    const { t, browser } = setup();
    const old = await onlineDevice(t, 'rev-dev-1');
    devices.push(old);
    const { page, problems } = await openPage(await newContext(browser));
    await signIn(page, t.gw.baseUrl, t.keys.admin);
    await page.goto(`${t.gw.baseUrl}/#/devices/rev-dev-1`);
    await page.getByRole('heading', { name: 'rev-dev-1', level: 1 }).waitFor();

    // Rotate: the new public key is pasted; the old key's session ends, the new key connects.
    const fresh = await deviceKeys();
    await page.getByRole('button', { name: 'Rotate key…' }).click();
    const rotate = page.getByRole('dialog', { name: 'Rotate the key of rev-dev-1?' });
    await rotate.getByLabel('New public key (JWK from the device)').fill(JSON.stringify(fresh.pub));
    await rotate.getByRole('button', { name: 'Rotate key' }).click();
    await rotate.waitFor({ state: 'hidden' });
    expect(await old.closed()).toBe(CloseCode.REVOKED);
    expect(t.gw.store.devices.get('rev-dev-1')?.publicKeyJwk).toMatchObject({ x: fresh.pub.x });
    const renewed = await TestDevice.connect(t.gw, t.ca, 'rev-dev-1', fresh.priv);
    devices.push(renewed);
    renewed.hello('rev-dev-1');
    await renewed.next('welcome');

    // Revoke: Cancel does nothing; confirming cuts the device off.
    await page.getByRole('button', { name: 'Revoke…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke rev-dev-1?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(t.gw.store.devices.get('rev-dev-1')?.state).not.toBe('revoked');

    await page.getByRole('button', { name: 'Revoke…' }).click();
    await dialog.getByRole('button', { name: 'Revoke device' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await renewed.closed()).toBe(CloseCode.REVOKED);
    await expect.poll(() => page.locator('#device-facts dd').first().textContent()).toBe('Revoked');
    expect(t.gw.store.devices.get('rev-dev-1')?.state).toBe('revoked');

    await page.getByRole('link', { name: 'Audit log' }).click();
    for (const action of ['device.rotate-key', 'device.revoke'])
      await page.getByRole('row').filter({ hasText: action }).getByText('rev-dev-1').waitFor();
    expect(problems).toEqual([]);
  });
});
