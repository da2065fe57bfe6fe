/**
 * The dashboard against the real firmware (issue 9): a real gateway (development TLS, port 0),
 * the firmware host build provisioned against it as `kiln provision` does it (Improv Wi-Fi,
 * Kiln RPC for the gateway URL and CA, a key generated on the device, registration with an
 * enroll key), and Debian Chromium signed in with an operate key. The live chart follows the
 * firmware's telemetry; Identify makes the firmware blink and the page shows its result;
 * setting the interval to 1 s changes the firmware's cadence as the gateway stores it.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Gateway, resolveConfig, startGateway } from '@kiln/companion';
import { provision, SerialLink } from '@kiln/provisioning';
import type { Browser, Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { artifactPath, launchChromium, newContext, openPage, signIn } from '../../companion/test/dashboard/browser.ts';
import { api } from '../../companion/test/helpers.ts';
import { ensureDeviceBuilt } from './helpers/device.ts';

const DEVICE_ID = 'e2e-dash-1';
/** The gateway's default interval: slow enough that the change to 1 s is plain in the gaps. */
const DEFAULT_TELEMETRY_SEC = 3;

let dir: string | undefined;
let gw: Gateway | undefined;
let device: ChildProcessWithoutNullStreams | undefined;
let link: SerialLink | undefined;
let browser: Browser | undefined;

afterEach(async () => {
  await browser?.close().catch(() => {});
  await link?.close().catch(() => {});
  if (device && device.exitCode === null && device.signalCode === null) {
    const gone = new Promise<void>((r) => device?.once('exit', () => r()));
    device.kill('SIGKILL');
    await gone;
  }
  await gw?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  browser = undefined;
  link = undefined;
  device = undefined;
  gw = undefined;
  dir = undefined;
});

/** kiln-device on its stdio UART, seen through the provisioning client's serial link. */
function startDevice(nvs: string): { proc: ChildProcessWithoutNullStreams; link: SerialLink; stderr: string[] } {
  const proc = spawn(
    ensureDeviceBuilt(),
    ['--nvs', nvs, '--wifi', 'KilnLab:correct-horse', '--backoff-base-ms', '200', '--backoff-cap-ms', '1000'],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' } },
  );
  const stderr: string[] = [];
  proc.stderr.on('data', (c: Buffer) => stderr.push(c.toString('utf8')));
  const serial = new SerialLink({
    write: (d) => {
      proc.stdin.write(d);
    },
    onData: (listener) => {
      proc.stdout.on('data', listener);
      return () => proc.stdout.off('data', listener);
    },
    close: () => {
      proc.stdin.end();
    },
  });
  return { proc, link: serial, stderr };
}

interface Point {
  bootId: string;
  seq: number;
  ts: number;
}

/** The samples the gateway has stored for the device since `from` (device clock, ms), oldest first. */
async function storedSince(g: Gateway, ca: Buffer, key: string, from: number): Promise<Point[]> {
  const q = new URLSearchParams({ from: String(from), to: String(Date.now() + 60_000), metric: 'uptime_ms' });
  const r = await api(g, ca, 'GET', `/api/v1/devices/${DEVICE_ID}/telemetry?${q}`, { key });
  expect(r.status).toBe(200);
  return [...(r.body as { points: Point[] }).points].sort((a, b) => a.ts - b.ts);
}

const gaps = (points: Point[]) => points.slice(1).map((p, i) => p.ts - (points[i] as Point).ts);

/** "uptime_ms: latest … · N samples in view" → N, and the chart's draw counter. */
async function chartState(page: Page): Promise<{ samples: number; draws: number }> {
  const figure = page.locator('figure[data-metric="uptime_ms"]');
  const caption = (await figure.locator('figcaption').textContent()) ?? '';
  const samples = Number(/([\d,]+) samples? in view/.exec(caption)?.[1]?.replaceAll(',', '') ?? 0);
  return { samples, draws: Number(await figure.getAttribute('data-draws')) };
}

describe('dashboard with the firmware host build as the device', () => {
  it('charts live firmware telemetry, identifies the device and changes its telemetry interval', {
    timeout: 60_000,
  }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-dash-'));
    gw = await startGateway(
      resolveConfig({
        dataDir: join(dir, 'gw'),
        listen: { host: '127.0.0.1', port: 0 },
        mqtt: { listen: { host: '127.0.0.1', port: 0 } },
        instanceId: `e2e-dash-${process.pid}`,
        limits: { telemetrySec: DEFAULT_TELEMETRY_SEC },
      }),
      { log: createLogger({ level: process.env.KILN_TEST_GW_LOG ?? 'silent' }) },
    );
    const g = gw;
    const caPem = readFileSync(g.caPath as string, 'utf8');
    const ca = Buffer.from(caPem);
    const enrollKey = g.store.apiKeys.create('provisioning', 'enroll').key;
    const operateKey = g.store.apiKeys.create('operator', 'operate').key;

    // Provisioning, as `kiln provision` does it, over the device's own UART.
    const dev = startDevice(join(dir, 'nvs.txt'));
    device = dev.proc;
    link = dev.link;
    const serial = dev.link;
    const summary = await provision({
      port: serial,
      ssid: 'KilnLab',
      psk: 'correct-horse',
      gateway: g.deviceUrl,
      ca: caPem,
      apiKey: enrollKey,
      deviceId: DEVICE_ID,
    }).catch((e: unknown) => {
      throw new Error(`provisioning failed: ${e}\n${serial.logs.slice(-30).join('\n')}\n${dev.stderr.join('')}`);
    });
    expect(summary).toMatchObject({ deviceId: DEVICE_ID, key: 'generated', registration: 'registered', online: true });
    await serial.waitLog(new RegExp(`online: telemetry every ${DEFAULT_TELEMETRY_SEC} s`), 10_000);
    const onlineAt = Date.now();

    // The dashboard, signed in with an operate key, on the device's page.
    browser = await launchChromium();
    const { page, problems } = await openPage(await newContext(browser));
    await signIn(page, g.baseUrl, operateKey);
    await page.getByRole('link', { name: DEVICE_ID, exact: true }).click();
    await page.getByRole('heading', { name: DEVICE_ID, level: 1 }).waitFor();
    const interval = page.getByLabel('Telemetry interval (seconds)');
    await expect.poll(() => interval.inputValue()).toBe(String(DEFAULT_TELEMETRY_SEC));

    // The live chart grows as the firmware samples: more points in view, more draws.
    await page.locator('figure[data-metric="uptime_ms"]').waitFor();
    const first = await chartState(page);
    await expect
      .poll(async () => (await chartState(page)).samples, { timeout: 3 * DEFAULT_TELEMETRY_SEC * 1000 })
      .toBeGreaterThan(first.samples);
    expect((await chartState(page)).draws).toBeGreaterThan(first.draws);

    // Identify: the firmware runs it (its log says so) and the page shows the result.
    await page.getByRole('button', { name: 'Identify' }).click();
    await serial.waitLog(/kiln: identify: blinking for 10 s/, 10_000);
    await page.getByRole('status').filter({ hasText: 'identify: ok — {"seconds":10}' }).waitFor();
    await page
      .locator('#commands-table tbody tr')
      .filter({ hasText: 'identify' })
      .getByText('{"seconds":10}')
      .waitFor();

    // Set interval 1: applied at once, and the samples the gateway stores come ~1 s apart.
    // First the cadence the welcome set, from samples taken since the device came online.
    let before: Point[] = [];
    await expect
      .poll(
        async () => {
          before = await storedSince(g, ca, operateKey, onlineAt);
          return before.length;
        },
        { timeout: 4 * DEFAULT_TELEMETRY_SEC * 1000, interval: 250 },
      )
      .toBeGreaterThanOrEqual(3);
    for (const gap of gaps(before))
      expect(Math.abs(gap - DEFAULT_TELEMETRY_SEC * 1000), `gaps ${gaps(before).join(', ')} ms`).toBeLessThan(400);
    await interval.fill('1');
    await page.getByRole('button', { name: 'Set interval' }).click();
    await page.getByRole('status').filter({ hasText: 'telemetry every 1 s — applied now' }).waitFor();
    await serial.waitLog(/kiln: config: telemetry every 1000 ms/, 5000);
    const applied = Date.now();
    let recent: Point[] = [];
    await expect
      .poll(
        async () => {
          recent = await storedSince(g, ca, operateKey, applied);
          return recent.length;
        },
        { timeout: 10_000, interval: 250 },
      )
      .toBeGreaterThanOrEqual(4);
    for (const gap of gaps(recent))
      expect(Math.abs(gap - 1000), `gaps ${gaps(recent).join(', ')} ms`).toBeLessThan(400);
    expect(g.store.devices.configOf(DEVICE_ID)).toMatchObject({ telemetrySec: 1 });

    // The chart keeps up with the faster cadence.
    const fast = await chartState(page);
    await expect
      .poll(async () => (await chartState(page)).samples, { timeout: 5000 })
      .toBeGreaterThanOrEqual(fast.samples + 2);
    await page.screenshot({ path: artifactPath('dashboard-firmware-device.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
