/**
 * What `kiln flash` writes, from any of its three input forms, and the safety checks
 * that run before a byte is written (issue 4, Deliver 3):
 *   - an ESP-IDF build dir (flasher_args.json, underscore or dash spellings; formats.md §5);
 *   - FILE@OFFSET pairs;
 *   - one merged image (written at --offset, default 0).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UsageError } from './errors.ts';
import { readImageHeader } from './image/header.ts';
import type { Target } from './targets/index.ts';

export interface Region {
  address: number;
  data: Uint8Array;
  /** bootloader, app, partition-table, otadata… or the file name. */
  name: string;
  file: string;
}

export interface FlashPlan {
  regions: Region[];
  /** The chip the build is for (flasher_args.json extra_esptool_args.chip). */
  chip?: string;
  flashSettings?: { mode?: string; size?: string; freq?: string };
  /** A merged image: headers are looked for at the chip's offsets inside it. */
  merged: boolean;
}

export function parseOffset(text: string, what = 'offset'): number {
  const t = text.trim();
  const n = /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t, 16) : /^\d+$/.test(t) ? Number(t) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new UsageError('FLASH_OFFSET_INVALID', `'${text}' is not a valid ${what}`, {
      hint: 'write offsets as hex (0x10000) or decimal',
    });
  }
  return n;
}

function readInput(file: string): Uint8Array {
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new UsageError('FLASH_FILE_MISSING', `${file} does not exist`, {
      hint: 'check the path; for an ESP-IDF project, run idf.py build first',
    });
  }
  return new Uint8Array(readFileSync(file));
}

export function loadFlashPlan(inputs: readonly string[], options: { offset?: number } = {}): FlashPlan {
  if (inputs.length === 0) {
    throw new UsageError('FLASH_NO_INPUT', 'nothing to flash', {
      hint: 'give a build dir, FILE@OFFSET pairs or a merged image: kiln flash build/ --port /dev/ttyUSB0',
    });
  }
  const [first] = inputs;
  if (inputs.length === 1 && first !== undefined && existsSync(first) && statSync(first).isDirectory()) {
    return loadBuildDir(first);
  }
  if (inputs.length === 1 && first !== undefined && !first.includes('@')) {
    const data = readInput(first);
    return { regions: [{ address: options.offset ?? 0, data, name: 'merged', file: first }], merged: true };
  }
  const regions = inputs.map((input) => {
    const at = input.lastIndexOf('@');
    if (at <= 0) {
      throw new UsageError('FLASH_INPUT_INVALID', `'${input}' is not FILE@OFFSET`, {
        hint: 'pair every file with its offset, e.g. bootloader.bin@0x1000 app.bin@0x10000',
      });
    }
    const file = input.slice(0, at);
    return { address: parseOffset(input.slice(at + 1)), data: readInput(file), name: basename(file), file };
  });
  return { regions: sortAndCheckOverlaps(regions), merged: false };
}

interface FlasherArgs {
  flash_files?: Record<string, string>;
  write_flash_args?: string[];
  flash_settings?: Record<string, string>;
  extra_esptool_args?: { chip?: string };
  [entry: string]: unknown;
}

function loadBuildDir(dir: string): FlashPlan {
  const candidates = [join(dir, 'flasher_args.json'), join(dir, 'build', 'flasher_args.json')];
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new UsageError('FLASHER_ARGS_MISSING', `${dir} has no flasher_args.json`, {
      hint: 'point at the ESP-IDF build directory (run idf.py build), or give FILE@OFFSET pairs',
    });
  }
  const base = resolve(path, '..');
  let args: FlasherArgs;
  try {
    args = JSON.parse(readFileSync(path, 'utf8')) as FlasherArgs;
  } catch (e) {
    throw new UsageError('FLASHER_ARGS_INVALID', `${path} is not valid JSON: ${(e as Error).message}`, {
      hint: 'rebuild with idf.py build to regenerate it',
      cause: e,
    });
  }
  const files = args?.flash_files;
  if (!files || typeof files !== 'object' || Object.keys(files).length === 0) {
    throw new UsageError('FLASHER_ARGS_INVALID', `${path} lists no flash_files`, {
      hint: 'rebuild with idf.py build to regenerate it',
    });
  }
  // Name each region after the entry that points at it (bootloader, app, partition-table, otadata…).
  const names = new Map<string, string>();
  for (const [key, value] of Object.entries(args)) {
    const entry = value as { offset?: unknown; file?: unknown } | null;
    if (entry && typeof entry === 'object' && typeof entry.offset === 'string' && typeof entry.file === 'string') {
      names.set(entry.file, key.replace(/_/g, '-'));
    }
  }
  const regions = Object.entries(files).map(([offset, file]) => {
    if (typeof file !== 'string') {
      throw new UsageError('FLASHER_ARGS_INVALID', `${path}: flash_files[${offset}] is not a file name`, {
        hint: 'rebuild with idf.py build to regenerate it',
      });
    }
    return {
      address: parseOffset(offset, `offset in ${path}`),
      data: readInput(join(base, file)),
      name: names.get(file) ?? basename(file),
      file: join(base, file),
    };
  });
  return {
    regions: sortAndCheckOverlaps(regions),
    chip: args.extra_esptool_args?.chip,
    flashSettings: flashSettings(args),
    merged: false,
  };
}

/** flash_settings, else write_flash_args in either spelling (--flash_mode / --flash-mode). */
function flashSettings(args: FlasherArgs): FlashPlan['flashSettings'] {
  const out: Record<string, string> = {};
  const list = Array.isArray(args.write_flash_args) ? args.write_flash_args : [];
  for (let i = 0; i + 1 < list.length; i++) {
    const m = /^--flash[-_](mode|size|freq)$/.exec(String(list[i]));
    if (m?.[1]) out[m[1]] = String(list[i + 1]);
  }
  for (const [k, v] of Object.entries(args.flash_settings ?? {})) {
    const m = /^flash[-_](mode|size|freq)$/.exec(k);
    if (m?.[1] && typeof v === 'string') out[m[1]] = v;
  }
  return out;
}

function sortAndCheckOverlaps(regions: Region[]): Region[] {
  const sorted = [...regions].sort((a, b) => a.address - b.address);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1] as Region;
    const b = sorted[i] as Region;
    if (a.address + a.data.length > b.address) {
      throw new UsageError(
        'REGIONS_OVERLAP',
        `${a.name} (0x${hex(a.address)}..0x${hex(a.address + a.data.length)}) overlaps ${b.name} at 0x${hex(b.address)}`,
        { hint: 'fix the offsets: every region must end before the next one starts' },
      );
    }
  }
  return sorted;
}

export const hex = (n: number) => n.toString(16);

/** Checks that need the device: the chip, the bootloader offset, the flash size. */
export function checkPlan(plan: FlashPlan, target: Target, flashSize: number | undefined, force: boolean): void {
  if (plan.chip && plan.chip !== target.name && !force) {
    throw new UsageError('CHIP_MISMATCH', `this build is for ${plan.chip}, but the device is an ${target.name}`, {
      hint: `build for the device (idf.py set-target ${target.name}), or pick the port of the ${plan.chip} board`,
    });
  }
  for (const region of plan.regions) {
    const starts = plan.merged ? [target.bootloaderOffset, 0x10000] : [0];
    for (const at of starts) {
      const header = readImageHeader(region.data, at);
      if (header && header.chipId !== target.imageChipId && !force) {
        throw new UsageError(
          'IMAGE_WRONG_CHIP',
          `${region.name} at 0x${hex(region.address + at)} is built for chip id ${header.chipId}, but the device is an ${target.name} (chip id ${target.imageChipId})`,
          { hint: `rebuild for ${target.name}, or pass --force if you really mean it` },
        );
      }
    }
    const isBootloader = region.name === 'bootloader' || /bootloader/i.test(basename(region.file));
    if (isBootloader && region.address !== target.bootloaderOffset && !force) {
      throw new UsageError(
        'BOOTLOADER_WRONG_OFFSET',
        `the bootloader goes at 0x${hex(target.bootloaderOffset)} on an ${target.name}, not at 0x${hex(region.address)}`,
        { hint: `write it at 0x${hex(target.bootloaderOffset)}; pass --force if this image is not a bootloader` },
      );
    }
    if (flashSize !== undefined && region.address + region.data.length > flashSize) {
      throw new UsageError(
        'FLASH_TOO_SMALL',
        `${region.name} ends at 0x${hex(region.address + region.data.length)}, beyond the ${flashSize / 1048576} MB flash`,
        { hint: 'check the offset, or use a board with more flash' },
      );
    }
  }
}
