/** `kiln image info|merge`: the scripting API over image/info.ts and image/merge.ts. */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { UsageError } from '../errors.ts';
import { describeImage, type ImageReport } from '../image/info.ts';
import { type FlashParams, mergeImages } from '../image/merge.ts';
import { loadFlashPlan } from '../plan.ts';
import { targetByName } from '../targets/index.ts';

/**
 * Describes an app or bootloader image file.
 *
 * Args: file, the path of a .bin.
 * Returns: header, segments, checksum and SHA-256 (each with its validity), app or bootloader description.
 * Throws: UsageError when the file is missing or is not an ESP image.
 */
export function imageInfo(file: string): ImageReport {
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new UsageError('IMAGE_FILE_MISSING', `${file} does not exist`, { hint: 'check the path' });
  }
  return describeImage(new Uint8Array(readFileSync(file)));
}

export interface MergeBinOptions extends FlashParams {
  /** FILE@OFFSET pairs, or one ESP-IDF build dir (its flasher_args.json). */
  inputs: readonly string[];
  out: string;
  /** Default: the build dir's chip, else esp32. */
  chip?: string;
  targetOffset?: number;
  padToSize?: number;
}

export interface MergeBinResult {
  out: string;
  chip: string;
  size: number;
  targetOffset: number;
  parts: { name: string; address: number; size: number }[];
}

/**
 * Writes one raw image made of every input, as `esptool merge-bin --format raw`.
 * A build dir brings its chip and flash settings, as `idf.py merge-bin` does.
 */
export function mergeBin(options: MergeBinOptions): MergeBinResult {
  const plan = loadFlashPlan(options.inputs);
  if (plan.merged) {
    throw new UsageError('MERGE_INPUT_INVALID', 'give FILE@OFFSET pairs or a build dir to merge', {
      hint: 'kiln image merge -o merged.bin bootloader.bin@0x1000 partition-table.bin@0x8000 app.bin@0x10000',
    });
  }
  const target = targetByName(options.chip ?? plan.chip ?? 'esp32');
  const settings = plan.flashSettings ?? {};
  const merged = mergeImages(plan.regions, {
    target,
    targetOffset: options.targetOffset,
    padToSize: options.padToSize,
    mode: options.mode ?? settings.mode,
    freq: options.freq ?? settings.freq,
    size: options.size ?? settings.size,
  });
  writeFileSync(options.out, merged);
  return {
    out: options.out,
    chip: target.name,
    size: merged.length,
    targetOffset: options.targetOffset ?? 0,
    parts: plan.regions.map((r) => ({ name: r.name, address: r.address, size: r.data.length })),
  };
}
