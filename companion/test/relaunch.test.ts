/**
 * `kiln gateway` starts itself over in a Node process with a larger young generation and
 * jemalloc (util/relaunch.ts). What an operator relies on: the gateway really runs that
 * way, says so, and the process they started still stands for it: signals reach it, it
 * ends with the gateway's status, and killing it ends the gateway too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { allocatorState } from '../src/util/allocator.ts';
import { GATEWAY_NODE_FLAGS, relaunchPlan, v8Option, youngGenerationMb } from '../src/util/relaunch.ts';
import { startGatewayProcess } from './gateway-process.ts';
import { tempDir } from './helpers.ts';

const dirs: { remove(): void }[] = [];
/** The relaunched gateways seen, killed at the end should a test fail before they stop. */
const gateways: number[] = [];

afterAll(() => {
  for (const pid of gateways) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const d of dirs) d.remove();
});

/** Running, and not a zombie (an orphan's reaper, in a container, may be slow or absent). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `kiln gateway` as an operator starts it, and the pid its banner names (the relaunched one). */
async function startGateway(env: NodeJS.ProcessEnv = {}) {
  const dir = tempDir();
  dirs.push(dir);
  const g = await startGatewayProcess(dir.dir, { env });
  const pid = Number(/runtime:\s+pid (\d+),/.exec(g.out())?.[1]);
  if (!pid) throw new Error(`gateway did not start: ${g.out()}${g.log()}`);
  gateways.push(pid);
  return { ...g, pid };
}

describe('relaunchPlan', () => {
  const base = {
    argv: ['/usr/bin/node', '/kiln/cli/bin/kiln.js', 'gateway', '--listen', '127.0.0.1:0'],
    execPath: '/usr/bin/node',
  };
  const withLib = { jemalloc: false, library: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2' };

  it('adds the young generation, the memory reducer off and jemalloc to the same command line', () => {
    const r = relaunchPlan({ ...base, execArgv: ['--trace-warnings'], env: { PATH: '/bin' } }, withLib);
    expect(r?.args).toEqual([
      '--trace-warnings',
      ...GATEWAY_NODE_FLAGS,
      '/kiln/cli/bin/kiln.js',
      'gateway',
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(r?.env.LD_PRELOAD).toBe(withLib.library);
    expect(r?.env.PATH).toBe('/bin');
  });

  it("keeps the user's own choices, and a preload already set", () => {
    const env = { NODE_OPTIONS: '--max-old-space-size=2048 --max-semi-space-size=32', LD_PRELOAD: '/opt/x.so' };
    const r = relaunchPlan({ ...base, execArgv: [], env }, withLib);
    // Their semi-space stands; the memory reducer, which they did not set, still goes off.
    expect(r?.args).toEqual(['--no-memory-reducer', ...base.argv.slice(1)]);
    expect(r?.env.LD_PRELOAD).toBe(`${withLib.library}:/opt/x.so`);
    expect(youngGenerationMb([], env)).toBe(32);
    expect(youngGenerationMb(['--max_semi_space_size=128'], {})).toBe(128);
  });

  it('adds only the options the user did not set, in whichever form V8 takes them', () => {
    // Someone measuring the memory reducer's effect turns it back on: that stands.
    const on = relaunchPlan({ ...base, execArgv: ['--memory_reducer'], env: {} }, withLib);
    expect(on?.args).toEqual(['--memory_reducer', GATEWAY_NODE_FLAGS[0], ...base.argv.slice(1)]);
    const off = relaunchPlan({ ...base, execArgv: [], env: { NODE_OPTIONS: '--nomemory-reducer' } }, withLib);
    expect(off?.args).toEqual([GATEWAY_NODE_FLAGS[0], ...base.argv.slice(1)]);
    expect(v8Option('memory-reducer', ['--no-memory-reducer', '--memory-reducer'], {})).toEqual({ no: false });
    expect(v8Option('memory-reducer', [], { NODE_OPTIONS: '--no_memory_reducer' })).toEqual({ no: true });
    expect(v8Option('memory-reducer', ['--memory-reducer-for-small-heaps'], {})).toBe(undefined);
    expect(v8Option('max-semi-space-size', ['--max-semi-space-size=8'], {})).toEqual({ no: false, value: '8' });
  });

  it('does nothing when there is nothing to add, when told not to, and in the relaunched process', () => {
    const flags = [...GATEWAY_NODE_FLAGS];
    expect(relaunchPlan({ ...base, execArgv: flags, env: {} }, { jemalloc: true, library: withLib.library })).toBe(
      undefined,
    );
    expect(relaunchPlan({ ...base, execArgv: flags, env: {} }, { jemalloc: false, library: undefined })).toBe(
      undefined,
    );
    expect(relaunchPlan({ ...base, execArgv: [], env: { KILN_GATEWAY_RELAUNCH: '0' } }, withLib)).toBe(undefined);
    const r = relaunchPlan({ ...base, execArgv: [], env: {} }, withLib);
    expect(relaunchPlan({ ...base, execArgv: r?.args.slice(0, 1) ?? [], env: r?.env ?? {} }, withLib)).toBe(undefined);
  });
});

describe.skipIf(!existsSync('/proc/self/cmdline'))('kiln gateway, relaunched', () => {
  it('runs the gateway with the young generation, no memory reducer and jemalloc, says so, and stops on SIGTERM', async () => {
    const g = await startGateway();
    expect(g.pid).not.toBe(g.proc.pid);
    const cmdline = readFileSync(`/proc/${g.pid}/cmdline`, 'utf8').split('\0');
    for (const flag of GATEWAY_NODE_FLAGS) expect(cmdline).toContain(flag);
    expect(g.out()).toMatch(/runtime:\s+pid \d+, young generation 64 MiB per semi-space, memory reducer off,/);
    const lib = allocatorState()?.library;
    // jemalloc is in the gateway's memory exactly when the system has it.
    expect(readFileSync(`/proc/${g.pid}/maps`, 'utf8').includes('libjemalloc')).toBe(lib !== undefined);
    expect(g.out()).toContain(lib ? ', jemalloc' : ', system allocator');
    g.proc.kill('SIGTERM');
    expect(await g.exited, `stdout:\n${g.out()}\nstderr:\n${g.log()}`).toEqual({ code: 0, signal: null });
    expect(g.out()).toContain('kiln gateway: stopped');
    expect(alive(g.pid)).toBe(false);
  }, 60_000);

  it('stops the gateway cleanly once on SIGINT (Ctrl+C)', async () => {
    const g = await startGateway();
    g.proc.kill('SIGINT');
    expect(await g.exited, `stdout:\n${g.out()}\nstderr:\n${g.log()}`).toEqual({ code: 0, signal: null });
    expect(g.out()).toContain('kiln gateway: stopped');
    expect(alive(g.pid)).toBe(false);
  }, 60_000);

  it('stops cleanly when SIGTERM reaches it and its parent at once (systemd stops a whole control group)', async () => {
    const g = await startGateway();
    process.kill(g.pid, 'SIGTERM');
    g.proc.kill('SIGTERM');
    expect(await g.exited, `stdout:\n${g.out()}\nstderr:\n${g.log()}`).toEqual({ code: 0, signal: null });
    expect(g.out()).toContain('kiln gateway: stopped');
    expect(alive(g.pid)).toBe(false);
  }, 60_000);

  it('ends the gateway at once when it is killed with SIGKILL', async () => {
    const g = await startGateway();
    g.proc.kill('SIGKILL');
    await g.exited;
    await until('the relaunched gateway to end', () => !alive(g.pid));
    expect(g.out()).not.toContain('kiln gateway: stopped');
  }, 60_000);

  it('runs in the process it was started in with KILN_GATEWAY_RELAUNCH=0', async () => {
    const g = await startGateway({ KILN_GATEWAY_RELAUNCH: '0' });
    expect(g.pid).toBe(g.proc.pid);
    expect(g.out()).toContain("Node's default young generation");
    g.proc.kill('SIGTERM');
    expect(await g.exited, `stdout:\n${g.out()}\nstderr:\n${g.log()}`).toEqual({ code: 0, signal: null });
  }, 60_000);
});
