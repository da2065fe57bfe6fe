/**
 * The start-up advice to run a large fleet's gateway with jemalloc (util/allocator.ts): given
 * from JEMALLOC_FLEET registered devices when jemalloc is not loaded, naming the library to
 * preload; and the detection of a preloaded jemalloc, in a real process started with LD_PRELOAD.
 */
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { startGateway } from '../src/gateway.ts';
import { createLogger } from '../src/log.ts';
import { Store } from '../src/store/index.ts';
import { allocatorAdvice, allocatorState, JEMALLOC_FLEET } from '../src/util/allocator.ts';
import { deviceKeys, tempDir, testConfig } from './helpers.ts';

it('advises jemalloc from JEMALLOC_FLEET devices, naming the library, unless it is loaded', () => {
  const lib = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';
  expect(allocatorAdvice(JEMALLOC_FLEET - 1, { jemalloc: false, library: lib })).toBeUndefined();
  expect(allocatorAdvice(JEMALLOC_FLEET, { jemalloc: true, library: lib })).toBeUndefined();
  expect(allocatorAdvice(JEMALLOC_FLEET, { jemalloc: false, library: lib })).toContain(`LD_PRELOAD=${lib}`);
  expect(allocatorAdvice(5000, { jemalloc: false, library: undefined })).toMatch(/^5000 devices .*libjemalloc2/);
  // Where it cannot be told (no /proc), nothing is said.
  expect(allocatorAdvice(5000, undefined)).toBeUndefined();
});

it('tells a process with jemalloc preloaded from one without', () => {
  const here = allocatorState();
  expect(here).toBeDefined();
  if (!here?.library) return; // libjemalloc2 not installed (scripts/setup.sh installs it)
  const module = fileURLToPath(new URL('../src/util/allocator.ts', import.meta.url));
  const probe = (env: NodeJS.ProcessEnv) => {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import(${JSON.stringify(module)}).then((m) => console.log(JSON.stringify(m.allocatorState())))`,
      ],
      { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { jemalloc: boolean; library: string };
  };
  expect(probe({ LD_PRELOAD: here.library })).toEqual({ jemalloc: true, library: here.library });
  expect(probe({ LD_PRELOAD: '' })).toEqual({ jemalloc: false, library: here.library });
});

it('logs the advice once at start-up for a fleet that size', async () => {
  const t = tempDir();
  const lines: string[] = [];
  try {
    const store = Store.open(t.dir);
    const { pub } = await deviceKeys();
    store.db.transaction(() => {
      for (let i = 0; i < JEMALLOC_FLEET; i++) store.devices.register(`fleet-${i}`, pub);
    })();
    store.close();
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const gw = await startGateway(testConfig(t.dir), { log: createLogger({ level: 'info', destination: sink }) });
    await gw.close();
    const advice = lines.filter((l) => l.includes('LD_PRELOAD'));
    const state = allocatorState();
    if (state?.jemalloc) expect(advice).toEqual([]);
    else {
      expect(advice).toHaveLength(1);
      expect(JSON.parse(advice[0] as string)).toMatchObject({ level: 40 });
      expect(advice[0]).toContain(`${JEMALLOC_FLEET} devices registered`);
    }
  } finally {
    t.remove();
  }
});
