/**
 * `kiln flash` with several ports (issue 4, Deliver 5): the plan is read and checked
 * once, then one device per port is flashed concurrently. Each device reports its own
 * events and result; one failure does not abort the others. The caller gets every
 * outcome, and ParallelFlashError when any device failed.
 */
import { KilnError } from '@kiln/protocol';
import type { FlasherEvent } from '../events.ts';
import { loadFlashPlan } from '../plan.ts';
import { type FlashOptions, type FlashResult, flash } from './flash.ts';

export interface FlashManyOptions extends Omit<FlashOptions, 'port' | 'onEvent'> {
  ports: readonly string[];
  /** Every device's events, tagged with its port. */
  onEvent?: (port: string, event: FlasherEvent) => void;
}

export type DeviceOutcome =
  | { port: string; ok: true; seconds: number; result: FlashResult }
  | {
      port: string;
      ok: false;
      seconds: number;
      error: { code: string; message: string; hint?: string; exitCode: number };
    };

/** Some devices failed; `outcomes` has every device's, `exitCode` is the first failure's. */
export class ParallelFlashError extends KilnError {
  readonly outcomes: DeviceOutcome[];
  constructor(outcomes: DeviceOutcome[]) {
    const failed = outcomes.filter((o) => !o.ok);
    const first = failed[0];
    super(
      'PARALLEL_FLASH_FAILED',
      `${failed.length} of ${outcomes.length} devices failed: ${failed.map((f) => `${f.port} (${f.ok ? '' : f.error.code})`).join(', ')}`,
      {
        hint: 'the others were flashed and verified; fix the failed ones and run kiln flash again for those ports',
        exitCode: first && !first.ok ? first.error.exitCode : 1,
      },
    );
    this.outcomes = outcomes;
  }
}

function describe(e: unknown): { code: string; message: string; hint?: string; exitCode: number } {
  if (e instanceof KilnError) return { code: e.code, message: e.message, hint: e.hint, exitCode: e.exitCode };
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e), exitCode: 1 };
}

/**
 * Flashes the same plan onto every port at once.
 *
 * Returns: one outcome per port, in the order given.
 * Throws: UsageError before any port is opened when the input is bad; ParallelFlashError
 * (after every device has finished) when at least one device failed.
 */
export async function flashMany(options: FlashManyOptions): Promise<DeviceOutcome[]> {
  const plan = options.plan ?? loadFlashPlan(options.inputs ?? [], { offset: options.offset });
  const { ports, onEvent, ...rest } = options;
  const outcomes = await Promise.all(
    ports.map(async (port): Promise<DeviceOutcome> => {
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        const result = await flash({ ...rest, plan, port, onEvent: (e) => onEvent?.(port, e) });
        return { port, ok: true, seconds: seconds(), result };
      } catch (e) {
        return { port, ok: false, seconds: seconds(), error: describe(e) };
      }
    }),
  );
  if (outcomes.some((o) => !o.ok)) throw new ParallelFlashError(outcomes);
  return outcomes;
}

/** The summary table printed after a parallel run. */
export function formatSummary(outcomes: readonly DeviceOutcome[]): string {
  const rows = outcomes.map((o) => [
    o.port,
    o.ok ? 'ok' : 'FAILED',
    o.ok ? o.result.chip : '',
    `${o.seconds.toFixed(1)} s`,
    o.ok
      ? `${o.result.regions.filter((r) => !r.skipped).length} written, ${o.result.regions.filter((r) => r.skipped).length} already there, verified`
      : `${o.error.code}: ${o.error.message}`,
  ]);
  const head = ['PORT', 'RESULT', 'CHIP', 'TIME', 'DETAIL'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 4 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const ok = outcomes.filter((o) => o.ok).length;
  return `${[line(head), ...rows.map(line)].join('\n')}\n${ok} of ${outcomes.length} devices flashed and verified.\n`;
}
