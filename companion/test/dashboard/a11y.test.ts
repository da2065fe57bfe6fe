/**
 * Keyboard and assistive-technology use of the dashboard in real Chromium: sign-in and the
 * devices table work from the keyboard alone in a sensible tab order with a visible focus
 * ring; every control has an accessible name (read from Chromium's own accessibility tree);
 * the table is a semantic table; the confirmation dialog traps focus, closes on Escape and
 * gives focus back.
 */
import type { Browser, Page } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestDevice } from '../helpers.ts';
import { artifactPath, dashboardGateway, launchChromium, newContext, onlineDevice, openPage } from './browser.ts';

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

/**
 * What a screen reader would call the focused element, and whether it shows a focus ring.
 * Page-side code is a string: the project's TypeScript has no DOM library.
 */
const FOCUSED = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return { name: '(body)', ring: false };
  const name = el.labels?.[0]?.textContent?.trim() || el.getAttribute('aria-label') || el.textContent?.trim() || '';
  const style = getComputedStyle(el);
  return { name, ring: el.matches(':focus-visible') && style.outlineStyle !== 'none' && style.outlineWidth !== '0px' };
})()`;
const focused = async (page: Page) => (await page.evaluate(FOCUSED)) as { name: string; ring: boolean };

const keyFieldFocused = (page: Page) => page.locator('#api-key:focus').waitFor();

async function tabUntil(page: Page, name: string, max = 40): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    seen.push(f.name);
    if (f.name === name) return seen;
  }
  throw new Error(`never reached "${name}" by Tab; went through: ${seen.join(' → ')}`);
}

/** Interactive nodes of Chromium's accessibility tree that have no accessible name. */
async function unnamedControls(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as {
    nodes: { ignored: boolean; role?: { value: string }; name?: { value: string } }[];
  };
  await cdp.detach();
  const interactive = new Set([
    'button',
    'textbox',
    'searchbox',
    'combobox',
    'spinbutton',
    'radio',
    'link',
    'checkbox',
  ]);
  return nodes
    .filter((n) => !n.ignored && interactive.has(n.role?.value ?? '') && !(n.name?.value ?? '').trim())
    .map((n) => n.role?.value ?? '?');
}

describe('dashboard accessibility', () => {
  it('signs in, browses the table and opens a device with the keyboard alone', async () => {
    if (!t || !browser) throw new Error('setup failed');
    devices.push(await onlineDevice(t, 'kbd-dev-1'), await onlineDevice(t, 'kbd-dev-2'));
    const { page, problems } = await openPage(await newContext(browser));
    await page.goto(t.gw.baseUrl);

    // The key field gets the focus once the page knows there is no session; Enter submits.
    await keyFieldFocused(page);
    expect((await focused(page)).name).toBe('Operator API key');
    await page.keyboard.type(t.keys.admin);
    await page.keyboard.press('Enter');
    await page.getByRole('rowheader', { name: 'kbd-dev-2' }).waitFor();
    expect(await unnamedControls(page)).toEqual([]);

    // The table is a table: column headers by name, a row header per device.
    const table = page.getByRole('table', { name: 'Registered devices' });
    for (const col of ['Device', 'State', 'Firmware', 'Chip', 'Last seen', 'RSSI', 'Reconnects'])
      await table.getByRole('columnheader', { name: col }).waitFor();
    expect(await table.getByRole('rowheader').count()).toBe(2);

    // Tab order from the top of a fresh page: skip link, navigation, session, filters, table.
    await page.reload();
    await page.getByRole('rowheader', { name: 'kbd-dev-2' }).waitFor();
    const order = await tabUntil(page, 'kbd-dev-1');
    expect(order).toEqual([
      'Skip to content',
      'Devices',
      'Audit log',
      'Sign out',
      'Search',
      'State',
      'Chip',
      'Rows per page',
      'Device',
      'State',
      'Firmware',
      'Chip',
      'Last seen',
      'RSSI',
      'Reconnects',
      'kbd-dev-1',
    ]);
    expect((await focused(page)).ring).toBe(true);
    await page.screenshot({ path: artifactPath('dashboard-keyboard-focus.png') });

    // Sorting from the keyboard: Shift+Tab back to the "Device" header; Enter, then Space, toggle it.
    for (let i = 0; i < 7; i++) await page.keyboard.press('Shift+Tab');
    expect((await focused(page)).name).toBe('Device');
    const deviceHeader = table.getByRole('columnheader', { name: 'Device' });
    await page.keyboard.press('Enter');
    await expect.poll(() => deviceHeader.getAttribute('aria-sort')).toBe('descending');
    expect(await table.getByRole('rowheader').first().textContent()).toBe('kbd-dev-2');
    await page.keyboard.press('Space');
    await expect.poll(() => deviceHeader.getAttribute('aria-sort')).toBe('ascending');

    // Filter by typing in the search field.
    await tabUntil(page, 'Search');
    await page.keyboard.type('dev-2');
    await expect.poll(() => table.getByRole('rowheader').count()).toBe(1);

    // Open the device with Enter: the page moves focus to its heading.
    await tabUntil(page, 'kbd-dev-2');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'kbd-dev-2', level: 1 }).waitFor();
    expect((await focused(page)).name).toBe('kbd-dev-2');
    await page.getByText('Waiting for telemetry').waitFor();
    expect(await unnamedControls(page)).toEqual([]);
    await page.screenshot({ path: artifactPath('dashboard-device-keyboard.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('traps focus in the confirmation dialog, closes it on Escape and returns focus', async () => {
    if (!t || !browser) throw new Error('setup failed');
    devices.push(await onlineDevice(t, 'dlg-dev-1'));
    const { page, problems } = await openPage(await newContext(browser));
    await page.goto(t.gw.baseUrl);
    await keyFieldFocused(page);
    await page.keyboard.type(t.keys.admin);
    await page.keyboard.press('Enter');
    await page.getByRole('rowheader', { name: 'dlg-dev-1' }).waitFor();
    await page.goto(`${t.gw.baseUrl}/#/devices/dlg-dev-1`);
    await page.getByRole('heading', { name: 'dlg-dev-1', level: 1 }).waitFor();

    await tabUntil(page, 'Revoke…', 60);
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Revoke dlg-dev-1?' });
    await dialog.waitFor();
    // The safe choice has the focus, and Tab / Shift+Tab stay inside the dialog.
    expect((await focused(page)).name).toBe('Cancel');
    await page.keyboard.press('Tab');
    expect((await focused(page)).name).toBe('Revoke device');
    await page.keyboard.press('Tab');
    expect((await focused(page)).name).toBe('Cancel');
    await page.keyboard.press('Shift+Tab');
    expect((await focused(page)).name).toBe('Revoke device');
    expect(await unnamedControls(page)).toEqual([]);

    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect((await focused(page)).name).toBe('Revoke…');
    expect(t.gw.store.devices.get('dlg-dev-1')?.state).toBe('online');

    // The rotate dialog: its key field is labelled and focused first.
    await page.keyboard.press('Shift+Tab');
    expect((await focused(page)).name).toBe('Rotate key…');
    await page.keyboard.press('Space');
    await page.getByRole('dialog', { name: 'Rotate the key of dlg-dev-1?' }).waitFor();
    expect((await focused(page)).name).toBe('New public key (JWK from the device)');
    await page.keyboard.type('not json');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect((await focused(page)).name).toBe('Rotate key');
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').getByRole('alert').filter({ hasText: 'JSON Web Key' }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    expect(problems).toEqual([]);
  });
});
