/**
 * `kiln flash`: write a build dir, FILE@OFFSET pairs or a merged image; skip regions
 * whose MD5 already matches; verify every region by MD5 after writing; reset into
 * the app. Success is reported only after every region verified.
 */
import { createHash } from 'node:crypto';
import { VerifyError } from '../errors.ts';
import type { After } from '../loader/session.ts';
import { writeDeflated } from '../loader/write.ts';
import { checkPlan, type FlashPlan, hex, loadFlashPlan } from '../plan.ts';
import { type DeviceOptions, withSession } from './connect-options.ts';

export interface FlashOptions extends DeviceOptions {
  /** Build dir, FILE@OFFSET pairs, or one merged image. Ignored when `plan` is given. */
  inputs?: readonly string[];
  plan?: FlashPlan;
  /** Where a merged image goes; default 0. */
  offset?: number;
  /** Rewrite regions whose MD5 already matches (espflash's --no-skip). Default false. */
  noSkip?: boolean;
  /** Write despite a wrong chip id or a bootloader at the wrong offset. */
  force?: boolean;
  /** After writing: hard-reset (default), bootloader or no-reset. */
  after?: After;
}

export interface FlashedRegion {
  name: string;
  address: number;
  size: number;
  md5: string;
  skipped: boolean;
  seconds: number;
}

export interface FlashResult {
  port: string;
  chip: string;
  description: string;
  regions: FlashedRegion[];
  /** false when the port could not reset the board (socket://): reset it by hand. */
  reset: boolean;
}

/** Pads to 4 bytes with 0xFF, as esptool-js writes it, so the MD5s compare like for like. */
function padded(data: Uint8Array): Uint8Array {
  if (data.length % 4 === 0) return data;
  const out = new Uint8Array(data.length + 4 - (data.length % 4)).fill(0xff);
  out.set(data);
  return out;
}

/**
 * Writes and verifies a flash plan.
 *
 * Args: options.port (path, rfc2217:// or socket://), options.inputs or options.plan,
 * options.chip to insist on a chip, options.noSkip, options.force, options.after,
 * options.onEvent for progress.
 * Returns: one entry per region, each verified (or skipped because it already matched).
 * Throws: UsageError before anything is written (bad input, wrong chip, overlap, too
 * big), PortError, DeviceError, VerifyError (exit code 5) when a region reads back wrong.
 */
export async function flash(options: FlashOptions): Promise<FlashResult> {
  const plan = options.plan ?? loadFlashPlan(options.inputs ?? [], { offset: options.offset });
  const emit = options.onEvent ?? (() => {});
  return withSession(options, async (session) => {
    const { loader } = session;
    const flashSize = parseSize(await loader.detectFlashSize().catch(() => undefined));
    checkPlan(plan, session.target, flashSize, options.force ?? false);
    const regions: FlashedRegion[] = [];
    for (const region of plan.regions) {
      const data = padded(region.data);
      const expected = createHash('md5').update(data).digest('hex');
      const base = { name: region.name, address: region.address, size: data.length };
      if (!options.noSkip && (await session.md5(region.address, data.length)) === expected) {
        emit({ type: 'region-skipped', ...base, md5: expected });
        regions.push({ ...base, md5: expected, skipped: true, seconds: 0 });
        continue;
      }
      emit({ type: 'region-start', ...base });
      const started = performance.now();
      await writeDeflated(loader, data, region.address, (written, total) =>
        emit({ type: 'progress', name: region.name, address: region.address, written, total, unit: 'compressed' }),
      );
      const actual = await session.md5(region.address, data.length);
      if (actual !== expected) {
        throw new VerifyError(
          'VERIFY_MISMATCH',
          `${region.name} at 0x${hex(region.address)} reads back wrong (MD5 ${actual}, expected ${expected})`,
          { hint: 'flash again; if it repeats, try a lower --baud or the flash may be worn' },
        );
      }
      const seconds = (performance.now() - started) / 1000;
      emit({ type: 'region-verified', ...base, md5: expected, seconds });
      regions.push({ ...base, md5: expected, skipped: false, seconds });
    }
    const after = options.after ?? 'hard-reset';
    const reset = await session.reset(after);
    emit({ type: 'reset', how: after, done: reset });
    if (!reset)
      emit({ type: 'warning', message: `${session.transport.port} cannot reset the board: reset it by hand` });
    return {
      port: session.transport.port,
      chip: session.target.name,
      description: session.description,
      regions,
      reset,
    };
  });
}

/** "4MB" / "512KB" (esptool-js's detected size) in bytes. */
export function parseSize(text: string | undefined): number | undefined {
  const m = /^(\d+)\s*(KB|MB)$/i.exec(text ?? '');
  if (!m?.[1] || !m[2]) return undefined;
  return Number(m[1]) * (m[2].toUpperCase() === 'MB' ? 1048576 : 1024);
}
