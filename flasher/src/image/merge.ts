/**
 * `kiln image merge`: one raw image from FILE@OFFSET parts, as `esptool merge-bin`
 * (formats.md §5): the output starts at the target offset, gaps and --pad-to-size are
 * 0xFF, and the image at the chip's bootloader offset gets the flash mode, frequency
 * and size patched (with its SHA-256 recomputed) unless they are all `keep`.
 */
import { createHash } from 'node:crypto';
import * as appImage from '@kiln/protocol/formats/app-image';
import { UsageError } from '../errors.ts';
import { hex } from '../plan.ts';
import type { Target } from '../targets/index.ts';

export interface MergePart {
  address: number;
  data: Uint8Array;
  name: string;
}

export interface FlashParams {
  /** qio, qout, dio, dout or keep. */
  mode?: string;
  /** 80m, 40m, 26m, 20m or keep. */
  freq?: string;
  /** 1MB … 128MB or keep. */
  size?: string;
}

export interface MergeOptions extends FlashParams {
  target: Target;
  /** Where the output will be flashed (its byte 0); default 0. */
  targetOffset?: number;
  /** Pad the output with 0xFF until it covers this much flash (from address 0). */
  padToSize?: number;
}

const MODES = ['qio', 'qout', 'dio', 'dout'];

export function mergeImages(parts: readonly MergePart[], options: MergeOptions): Buffer {
  const base = options.targetOffset ?? 0;
  const sorted = [...parts].sort((a, b) => a.address - b.address);
  const first = sorted[0];
  if (!first) throw new UsageError('MERGE_NO_INPUT', 'nothing to merge', { hint: 'give FILE@OFFSET pairs' });
  if (first.address < base) {
    throw new UsageError(
      'MERGE_BEFORE_TARGET_OFFSET',
      `${first.name} at 0x${hex(first.address)} is before the target offset 0x${hex(base)}`,
      { hint: 'lower --target-offset, or drop that part' },
    );
  }
  const chunks: Buffer[] = [];
  let at = base;
  const padTo = (address: number) => {
    if (address > at) chunks.push(Buffer.alloc(address - at, 0xff));
    at = Math.max(at, address);
  };
  for (const part of sorted) {
    if (part.address < at) {
      throw new UsageError('REGIONS_OVERLAP', `${part.name} at 0x${hex(part.address)} overlaps the part before it`, {
        hint: 'fix the offsets: every part must end before the next one starts',
      });
    }
    padTo(part.address);
    const data = part.address === options.target.bootloaderOffset ? patchFlashParams(part.data, options) : part.data;
    chunks.push(Buffer.from(data.buffer, data.byteOffset, data.length));
    at += data.length;
  }
  if (options.padToSize !== undefined) padTo(options.padToSize);
  return Buffer.concat(chunks);
}

/** esptool `_update_image_flash_params`: only a valid image, only when something is not `keep`. */
export function patchFlashParams(image: Uint8Array, options: FlashParams & { target: Target }): Uint8Array {
  const keep = (v: string | undefined) => v === undefined || v === 'keep';
  if (image.length < 8 || (keep(options.mode) && keep(options.freq) && keep(options.size))) return image;
  const parsed = appImage.parseImage(image);
  if (!parsed.ok) return image;
  const out = Buffer.from(image);
  let mode = out[2] ?? 0;
  let sizeFreq = out[3] ?? 0;
  if (!keep(options.mode)) {
    mode = MODES.indexOf(String(options.mode).toLowerCase());
    if (mode < 0)
      throw new UsageError('FLASH_MODE_INVALID', `unknown flash mode '${options.mode}'`, { hint: MODES.join(', ') });
  }
  if (!keep(options.freq)) {
    const code = options.target.flashFreqCodes[String(options.freq).toLowerCase()];
    if (code === undefined) {
      throw new UsageError('FLASH_FREQ_INVALID', `unknown flash frequency '${options.freq}'`, {
        hint: Object.keys(options.target.flashFreqCodes).join(', '),
      });
    }
    sizeFreq = (sizeFreq & 0xf0) | code;
  }
  if (!keep(options.size)) {
    const bytes = parseFlashSize(String(options.size));
    const code = [...options.target.flashSizeCodes].find(([, b]) => b === bytes)?.[0];
    if (code === undefined) {
      throw new UsageError('FLASH_SIZE_INVALID', `the ${options.target.name} has no flash size '${options.size}'`, {
        hint: [...options.target.flashSizeCodes.values()].map((b) => `${b / 1048576}MB`).join(', '),
      });
    }
    sizeFreq = (code << 4) | (sizeFreq & 0x0f);
  }
  out[2] = mode;
  out[3] = sizeFreq;
  if (parsed.image.header.hashAppended) {
    const end = parsed.image.checksumEnd;
    createHash('sha256').update(out.subarray(0, end)).digest().copy(out, end);
  }
  return out;
}

/** "4MB", "512KB", "0x400000" or decimal bytes. */
export function parseFlashSize(text: string): number {
  const m = /^(\d+)\s*(KB|MB|K|M)$/i.exec(text.trim());
  if (m?.[1] && m[2]) return Number(m[1]) * (m[2].toUpperCase().startsWith('M') ? 1048576 : 1024);
  const n = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new UsageError('FLASH_SIZE_INVALID', `'${text}' is not a flash size`, { hint: 'e.g. 4MB, 16MB or 0x400000' });
  }
  return n;
}
