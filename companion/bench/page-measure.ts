/**
 * What the dashboard benchmark measures inside the page: a probe injected before any page
 * script (frames, long tasks, when the devices table was painted) and the renderer's main
 * thread from a Chromium trace (CPU share, longest task in CPU and wall time).
 */
import type { Browser, Page } from 'playwright-core';
import { fmt } from './format.ts';

/**
 * Before any page script: the longest task and a frame counter, read back with `window.__bench`.
 * A string, not a function: tsx would wrap named functions in a helper the page does not have.
 */
export const PAGE_PROBE = `
  window.__bench = { longest: 0, longTasks: 0, frames: 0, painted: -1 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      window.__bench.longTasks++;
      window.__bench.longest = Math.max(window.__bench.longest, e.duration);
    }
  }).observe({ type: 'longtask' });
  new PerformanceObserver((list) => {
    // The frame that shows the rows: its rAF runs before the paint, a task queued there after it.
    if (list.getEntriesByName('kiln:devices-rendered').length && window.__bench.painted < 0)
      requestAnimationFrame(() => setTimeout(() => { window.__bench.painted = performance.now(); }));
  }).observe({ type: 'mark' });
  requestAnimationFrame(function tick() {
    window.__bench.frames++;
    requestAnimationFrame(tick);
  });
`;
export type Probe = { longest: number; longTasks: number; frames: number; painted: number };
// Page-side code is a string here too: the project's TypeScript has no DOM library.
export const probe = async (page: Page) => (await page.evaluate('window.__bench')) as Probe;
const resetProbe = (page: Page) =>
  page.evaluate('Object.assign(window.__bench, { longest: 0, longTasks: 0, frames: 0 })');

/**
 * The renderer's main thread from a Chromium trace (category `toplevel`): its CPU share and its
 * longest task in CPU time as well as wall time. On a busy machine a task's wall time includes
 * time the thread waited for a core; its CPU time is the page's own cost.
 */
function mainThread(trace: Buffer) {
  type Ev = {
    ph: string;
    name: string;
    pid: number;
    tid: number;
    ts: number;
    dur?: number;
    tdur?: number;
    args?: { name?: string };
  };
  const parsed = JSON.parse(trace.toString('utf8')) as { traceEvents: Ev[] } | Ev[];
  const events = Array.isArray(parsed) ? parsed : parsed.traceEvents;
  const mains = new Set(
    events
      .filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain')
      .map((e) => `${e.pid}:${e.tid}`),
  );
  const byThread = new Map<string, Ev[]>();
  for (const e of events) {
    const k = `${e.pid}:${e.tid}`;
    if (e.ph !== 'X' || !mains.has(k) || !/RunTask$/.test(e.name)) continue;
    byThread.set(k, [...(byThread.get(k) ?? []), e]);
  }
  const tasks = [...byThread.values()].sort((a, b) => b.length - a.length)[0] ?? [];
  if (tasks.length === 0) return { cpuShare: Number.NaN, maxCpuMs: Number.NaN, maxWallMs: Number.NaN };
  const start = Math.min(...tasks.map((e) => e.ts));
  const end = Math.max(...tasks.map((e) => e.ts + (e.dur ?? 0)));
  return {
    cpuShare: tasks.reduce((a, e) => a + (e.tdur ?? 0), 0) / Math.max(1, end - start),
    maxCpuMs: Math.max(...tasks.map((e) => e.tdur ?? 0)) / 1000,
    maxWallMs: Math.max(...tasks.map((e) => e.dur ?? 0)) / 1000,
  };
}

/** Runs `during` with the page probed (frames, long tasks) and traced (main-thread CPU). */
export async function measured<T>(browser: Browser, page: Page, during: () => Promise<T>) {
  await resetProbe(page);
  await browser.startTracing(page, { categories: ['toplevel'] });
  const t0 = Date.now();
  const result = await during();
  const sec = (Date.now() - t0) / 1000;
  const main = mainThread(await browser.stopTracing());
  return { result, sec, probe: await probe(page), main };
}
export type Measured = Awaited<ReturnType<typeof measured>>;
export const pageLine = (m: Measured) =>
  `${fmt(m.probe.frames / m.sec)} frames/s; main thread ${fmt(100 * m.main.cpuShare)}% of a core, longest task ${fmt(m.main.maxCpuMs, 1)} ms CPU / ${fmt(m.main.maxWallMs)} ms wall; ${m.probe.longTasks} long tasks (≥ 50 ms wall)`;
/** Not blocking: no task that costs the page itself 50 ms (wall time also counts waiting for a core). */
export const notBlocking = (m: Measured) => `not blocking: ${m.main.maxCpuMs < 50 ? 'met' : 'MISSED'}`;
