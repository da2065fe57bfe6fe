/** `kiln erase`: the whole chip, a region, or a partition by label from the device's table. */
import { ROM_LOADER_OPCODES } from '@kiln/protocol';
import { DeviceError, UsageError } from '../errors.ts';
import type { FlasherSession } from '../loader/session.ts';
import { type DeviceOptions, withSession } from './connect-options.ts';
import { readDeviceTable } from './partitions.ts';

export interface EraseOptions extends DeviceOptions {
  /** One of: region, partition label, or neither for the whole chip. */
  region?: { address: number; size: number };
  partition?: string;
  /** Where the partition table is; default 0x8000. */
  partitionTableOffset?: number;
}

export interface EraseResult {
  address: number;
  /** 'all' for a chip erase. */
  size: number | 'all';
  partition?: string;
}

const SECTOR = 0x1000;

/**
 * Erases flash (to 0xFF) with the stub's ERASE_FLASH or ERASE_REGION.
 *
 * Throws: UsageError for an unaligned region or an unknown label (listing the labels).
 */
export function erase(options: EraseOptions): Promise<EraseResult> {
  const emit = options.onEvent ?? (() => {});
  if (options.region && (options.region.address % SECTOR || options.region.size % SECTOR || !options.region.size)) {
    throw new UsageError('ERASE_UNALIGNED', 'erase regions start and end on 4 KiB (0x1000) sector boundaries', {
      hint: 'round OFFSET down and SIZE up to multiples of 0x1000',
    });
  }
  return withSession(options, async (session) => {
    let result: EraseResult;
    if (options.partition !== undefined) {
      const p = await findPartition(session, options.partition, options.partitionTableOffset);
      await eraseRegion(session, p.offset, p.size);
      result = { address: p.offset, size: p.size, partition: p.label };
    } else if (options.region) {
      await eraseRegion(session, options.region.address, options.region.size);
      result = { ...options.region };
    } else {
      await session.loader.eraseFlash();
      result = { address: 0, size: 'all' };
    }
    emit({ type: 'erased', address: result.address, size: result.size });
    return result;
  });
}

async function eraseRegion(session: FlasherSession, address: number, size: number): Promise<void> {
  const { loader } = session;
  if (!loader.IS_STUB) {
    throw new DeviceError('ERASE_NEEDS_STUB', 'erasing a region needs the flasher stub, which is not running');
  }
  const args = new Uint8Array(8);
  const view = new DataView(args.buffer);
  view.setUint32(0, address, true);
  view.setUint32(4, size, true);
  // 40 s per MB, at least 3 s, as esptool's erase_region.
  const timeout = Math.max(3000, (40000 * size) / 1e6);
  await loader.checkCommand('erase region', ROM_LOADER_OPCODES.ERASE_REGION, args, 0, 0, timeout);
}

async function findPartition(session: FlasherSession, label: string, tableOffset?: number) {
  const table = await readDeviceTable(session, tableOffset);
  const p = table.partitions.find((x) => x.label === label);
  if (!p) {
    throw new UsageError('PARTITION_NOT_FOUND', `the device has no partition '${label}'`, {
      hint: `its partitions: ${table.partitions.map((x) => x.label).join(', ')}`,
    });
  }
  return p;
}
