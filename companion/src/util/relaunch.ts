/**
 * `kiln gateway` starts its Node process over again, once, with what a fleet in the
 * thousands needs and what can only be given at start: a larger young generation, V8's
 * memory reducer off, and jemalloc when the system has it (docs/ARCHITECTURE.md, "Memory and
 * major collections").
 * - V8 sizes the young generation when the process starts (v8.setFlagsFromString later
 *   changes nothing). With 16 MiB semi-spaces, Node's default, a minor collection came every
 *   60–70 ms at 20,000 messages/s: a message still waiting for its commit outlived two of them
 *   and was promoted, the old generation filled with them, and the event loop spent 100–370 ms
 *   of every 5 s in minor collections. With 64 MiB, 40–65 ms, and the heap stays flat.
 * - The memory reducer is for a page gone idle: 100 s after the last major collection it
 *   starts one that also hands the young generation's pages back, whatever the load. Under a
 *   steady fleet that was every major collection the gateway had; each shrank the young
 *   generation to its minimum, promotion went up while it grew back, a second full
 *   collection followed within 20 s, and the windows around them were the slowest of a
 *   150 s run (138–193 ms ack p99). Without it, none came in 600 s (trace-gc).
 * - jemalloc must be loaded before anything else (LD_PRELOAD).
 * The relaunched gateway is the same command line with these added. This process stays as
 * its parent: it passes on signals, ends with the gateway's exit status, and if it is killed
 * (SIGKILL), the gateway ends at once too, as if it had been killed itself.
 * KILN_GATEWAY_RELAUNCH=0 runs the gateway in this process as started.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { allocatorState } from './allocator.ts';

/** V8's young generation, per semi-space, in MiB. */
export const YOUNG_GENERATION_MB = 64;
/** The V8 options the gateway runs with, each added unless the user set that option. */
const GATEWAY_V8_OPTIONS = [
  { option: 'max-semi-space-size', flag: `--max-semi-space-size=${YOUNG_GENERATION_MB}` },
  { option: 'memory-reducer', flag: '--no-memory-reducer' },
] as const;
/** Node flags the gateway runs with (the benchmark starts its gateway with them too). */
export const GATEWAY_NODE_FLAGS = GATEWAY_V8_OPTIONS.map((o) => o.flag);
/** Set in the relaunched process: it must not start another. */
const RELAUNCHED = 'KILN_GATEWAY_RELAUNCHED';

export interface Relaunch {
  execPath: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * The last setting of V8 option `option` on the command line or in NODE_OPTIONS, as
 * `{ no, value }` (`--no-memory-reducer`: no; `--max-semi-space-size=32`: value '32'), or
 * undefined when the user gave none. V8 takes `_` for `-`, and `--no` or `--no-` before a
 * boolean option.
 */
export function v8Option(
  option: string,
  execArgv: readonly string[],
  env: NodeJS.ProcessEnv,
): { no: boolean; value?: string } | undefined {
  let found: { no: boolean; value?: string } | undefined;
  for (const arg of [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)]) {
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    const name = (eq < 0 ? arg.slice(2) : arg.slice(2, eq)).replaceAll('_', '-');
    const value = eq < 0 ? undefined : arg.slice(eq + 1);
    if (name === option) found = value === undefined ? { no: false } : { no: false, value };
    else if (name === `no-${option}` || name === `no${option}`) found = { no: true };
  }
  return found;
}

/**
 * The semi-space size given on the command line or in NODE_OPTIONS, in MiB (the user's
 * choice stands); undefined when none was (Node's default, 16 MiB).
 */
export function youngGenerationMb(execArgv: readonly string[], env: NodeJS.ProcessEnv): number | undefined {
  const o = v8Option('max-semi-space-size', execArgv, env);
  return o === undefined ? undefined : Number(o.value ?? Number.NaN);
}

/** For the start-up banner: what this process runs with. */
export function runtimeSummary(p: Pick<NodeJS.Process, 'execArgv' | 'env' | 'pid'> = process): string {
  const mb = youngGenerationMb(p.execArgv, p.env);
  const allocator = allocatorState();
  return [
    `pid ${p.pid}`,
    mb === undefined ? "Node's default young generation" : `young generation ${mb} MiB per semi-space`,
    v8Option('memory-reducer', p.execArgv, p.env)?.no ? 'memory reducer off' : 'memory reducer on',
    allocator === undefined ? 'allocator unknown' : allocator.jemalloc ? 'jemalloc' : 'system allocator',
  ].join(', ');
}

/** How to start this command over, or undefined when this process already is what it would be. */
export function relaunchPlan(
  p: Pick<NodeJS.Process, 'argv' | 'execArgv' | 'execPath' | 'env'> = process,
  allocator = allocatorState(),
): Relaunch | undefined {
  if (p.env[RELAUNCHED] === '1' || p.env.KILN_GATEWAY_RELAUNCH === '0') return undefined;
  const flags = GATEWAY_V8_OPTIONS.filter((o) => v8Option(o.option, p.execArgv, p.env) === undefined).map(
    (o) => o.flag,
  );
  const preload = allocator && !allocator.jemalloc ? allocator.library : undefined;
  if (flags.length === 0 && !preload) return undefined;
  const env: NodeJS.ProcessEnv = { ...p.env, [RELAUNCHED]: '1' };
  if (preload) env.LD_PRELOAD = p.env.LD_PRELOAD ? `${preload}:${p.env.LD_PRELOAD}` : preload;
  return {
    execPath: p.execPath,
    args: [...p.execArgv, ...flags, ...p.argv.slice(1)],
    env,
  };
}

/**
 * Runs the relaunched command and answers its exit status. The child is in a process group
 * of its own, so that Ctrl+C reaches it once, from here (twice, it would stop at once
 * instead of draining).
 */
export function runRelaunched(r: Relaunch): Promise<number> {
  const child = spawn(r.execPath, r.args, {
    env: r.env,
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  for (const s of signals) process.on(s, forward);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      for (const s of signals) process.off(s, forward);
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}

/**
 * In the relaunched process: end at once when the parent is gone (killed with SIGKILL, which
 * cannot be passed on), as the parent did, rather than run on unseen. A no-op elsewhere.
 */
export function endWithParent(p: NodeJS.Process = process): void {
  if (p.env[RELAUNCHED] !== '1' || !p.channel) return;
  p.channel.unref();
  p.once('disconnect', () => p.kill(p.pid, 'SIGKILL'));
}
