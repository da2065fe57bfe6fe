/**
 * Browser-test helpers: Debian's Chromium driven by playwright-core, against a real gateway
 * (TLS with its self-signed dev CA, so the context ignores certificate errors), with a record
 * of what the page did wrong (uncaught errors, CSP violations, requests to other origins).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { registerDevice, startTestGateway, TestDevice } from '../helpers.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Where a test leaves its screenshots (git-ignored). */
export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

export interface Watched {
  page: Page;
  /** Uncaught exceptions and CSP violations: a clean page has none. */
  problems: string[];
  /** Every URL the page requested. */
  requests: string[];
}

export async function openPage(context: BrowserContext): Promise<Watched> {
  const page = await context.newPage();
  // Shorter than the test's own timeout, so a failure names the locator it waited for.
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (/Content.Security.Policy|Trusted Type/i.test(m.text())) problems.push(`csp: ${m.text()}`);
  });
  page.on('request', (r) => requests.push(r.url()));
  return { page, problems, requests };
}

export function newContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
}

/** A gateway with an API key of each operator scope. */
export async function dashboardGateway() {
  const t = await startTestGateway({ limits: { restRequestsPerMinPerRoute: 5000, restRequestsPerMinPerIp: 5000 } });
  const keys = {
    admin: t.gw.store.apiKeys.create('admin', 'admin').key,
    operate: t.gw.store.apiKeys.create('operator', 'operate').key,
    read: t.gw.store.apiKeys.create('viewer', 'read').key,
  };
  return { ...t, keys };
}

/** A registered device connected over WSS with its own ES256 key, past hello/welcome. */
export async function onlineDevice(
  t: Awaited<ReturnType<typeof dashboardGateway>>,
  id: string,
  facts: { chip?: string; version?: string } = {},
): Promise<TestDevice> {
  const keys = await registerDevice(t.gw, id);
  const dev = await TestDevice.connect(t.gw, t.ca, id, keys.priv);
  dev.send({
    type: 'hello',
    deviceId: id,
    bootId: 'b007c0de',
    firmware: { name: 'kiln-fw', version: facts.version ?? '1.4.2' },
    chip: facts.chip ?? 'esp32',
    mac: '24:0a:c4:00:00:01',
  });
  await dev.next('welcome');
  return dev;
}

/** Signs in through the form, as a person would, and waits for the devices table. */
export async function signIn(page: Page, baseUrl: string, key: string): Promise<void> {
  await page.goto(baseUrl);
  await page.getByLabel('Operator API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Devices', level: 1 }).waitFor();
}
