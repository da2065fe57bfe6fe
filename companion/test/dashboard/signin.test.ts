/**
 * Dashboard sign-in in real Chromium: a wrong key is refused, the right one opens the devices
 * table; the session is an HttpOnly, SameSite=Strict, Secure cookie; the key is kept nowhere
 * (URL, storage); a reload resumes the session; sign-out ends it. The page loads under its
 * CSP without a violation and fetches nothing from another origin.
 */
import type { Browser } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { api, registerDevice } from '../helpers.ts';
import { dashboardGateway, launchChromium, newContext, openPage } from './browser.ts';

let t: Awaited<ReturnType<typeof dashboardGateway>> | undefined;
let browser: Browser | undefined;

beforeEach(async () => {
  t = await dashboardGateway();
  browser = await launchChromium();
});
afterEach(async () => {
  await browser?.close();
  await t?.stop();
  browser = undefined;
  t = undefined;
});

describe('dashboard sign-in', () => {
  it('refuses a wrong key, signs in with the right one, resumes after a reload and signs out', async () => {
    if (!t || !browser) throw new Error('setup failed');
    await registerDevice(t.gw, 'signin-dev-1');
    const context = await newContext(browser);
    const { page, problems, requests } = await openPage(context);

    await page.goto(t.gw.baseUrl);
    const key = page.getByLabel('Operator API key');
    // The key field is a password field, and gets the focus.
    expect(await key.getAttribute('type')).toBe('password');
    await page.locator('#api-key:focus').waitFor();

    await key.fill('kiln_wrong_key_0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();
    expect(await page.getByRole('heading', { name: 'Devices', level: 1 }).isVisible()).toBe(false);
    expect(await context.cookies()).toEqual([]);

    await key.fill(t.keys.read);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('rowheader', { name: 'signin-dev-1' }).waitFor();
    expect(await key.inputValue()).toBe(''); // not kept in the form either

    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ name: 'kiln_session', httpOnly: true, secure: true, sameSite: 'Strict' });
    // Page-side code is a string: the project's TypeScript has no DOM library.
    expect(await page.evaluate('document.cookie')).toBe('');
    const kept = String(
      await page.evaluate('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })'),
    );
    expect(kept).not.toContain(t.keys.read);
    for (const url of requests) expect(url).not.toContain(t.keys.read);
    expect(page.url()).not.toContain(t.keys.read);

    // A reload has only the cookie: the page asks GET /api/v1/session for its CSRF token again.
    await page.reload();
    await page.getByRole('rowheader', { name: 'signin-dev-1' }).waitFor();
    expect(await page.getByText('Signed in: read').isVisible()).toBe(true);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Operator API key').waitFor();
    const after = await api(t.gw, t.ca, 'GET', '/api/v1/session', {
      headers: { cookie: `kiln_session=${cookies[0]?.value}` },
    });
    expect(after.status).toBe(401);
    await page.reload();
    await page.getByLabel('Operator API key').waitFor();
    expect(await page.getByRole('heading', { name: 'Devices', level: 1 }).isVisible()).toBe(false);

    expect(problems).toEqual([]);
    const origin = new URL(t.gw.baseUrl).origin;
    for (const url of requests) expect(new URL(url).origin).toBe(origin);
    await context.close();
  });

  it('serves the page and its assets itself, under a strict CSP, with cache headers', async () => {
    if (!t) throw new Error('setup failed');
    const page = await api(t.gw, t.ca, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(page.text).not.toMatch(/<style|\sstyle=/); // no inline style
    expect(page.text).not.toMatch(/https?:\/\//); // no CDN: nothing absolute
    const again = await api(t.gw, t.ca, 'GET', '/', { headers: { 'if-none-match': String(page.headers.etag) } });
    expect(again.status).toBe(304);

    const assets = [...page.text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
    expect(assets.some((a) => a.endsWith('/vendor/uPlot.esm.js'))).toBe(true);
    for (const a of assets) {
      const r = await api(t.gw, t.ca, 'GET', a);
      expect(r.status, a).toBe(200);
      expect(r.headers['cache-control'], a).toBe('public, max-age=31536000, immutable');
    }
    const gz = await api(t.gw, t.ca, 'GET', assets.find((a) => a.endsWith('uPlot.esm.js')) as string, {
      headers: { 'accept-encoding': 'gzip, br' },
    });
    expect(gz.headers['content-encoding']).toBe('br');
    // Assets of another build, and files outside the asset list, are not served.
    expect((await api(t.gw, t.ca, 'GET', '/assets/0000000000/js/main.js')).status).toBe(404);
    const base = (assets[0] as string).split('/').slice(0, 3).join('/');
    expect((await api(t.gw, t.ca, 'GET', `${base}/vendor/uPlot.cjs.js`)).status).toBe(404);
    expect((await api(t.gw, t.ca, 'GET', `${base}/index.html`)).status).toBe(404);
  });
});
