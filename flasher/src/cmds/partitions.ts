/** `kiln partitions gen|show`: the scripting API over image/partition-{table,csv}.ts. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { UsageError } from '../errors.ts';
import { type CsvOptions, parsePartitionCsv } from '../image/partition-csv.ts';
import {
  decodePartitionTable,
  encodePartitionTable,
  PARTITION_TABLE_OFFSET,
  PARTITION_TABLE_SIZE,
  type Partition,
} from '../image/partition-table.ts';
import type { FlasherSession } from '../loader/session.ts';
import { hex } from '../plan.ts';
import { type DeviceOptions, withSession } from './connect-options.ts';

export interface GenOptions extends CsvOptions {
  /** Append the MD5 row (CONFIG_PARTITION_TABLE_MD5); default true. */
  md5?: boolean;
}

export interface PartitionsResult {
  partitions: Partition[];
  /** Whether the table carries a (valid) MD5 row. */
  md5: boolean;
  warnings: string[];
  source: string;
}

function readText(file: string): Buffer {
  if (!existsSync(file))
    throw new UsageError('PARTITION_FILE_MISSING', `${file} does not exist`, { hint: 'check the path' });
  return readFileSync(file);
}

/**
 * Generates the binary table from a CSV, byte-identical to ESP-IDF's gen_esp32part.py.
 *
 * Args: csv (path), out (path of the .bin to write), options (table offset, flash size, md5).
 * Returns: the partitions with their offsets filled in, and gen_esp32part's warnings.
 * Throws: UsageError (exit code 2) for any row gen_esp32part would refuse.
 */
export function partitionsGen(csv: string, out: string, options: GenOptions = {}): PartitionsResult {
  const { partitions, warnings } = parsePartitionCsv(readText(csv).toString('utf8'), options);
  writeFileSync(out, encodePartitionTable(partitions, { md5: options.md5 }));
  return { partitions, md5: options.md5 ?? true, warnings, source: csv };
}

/** Reads a table from a binary (or a CSV, which is parsed as gen would). */
export function partitionsFromFile(file: string, options: CsvOptions = {}): PartitionsResult {
  const data = readText(file);
  if (data[0] === 0xaa && data[1] === 0x50) return { ...decodePartitionTable(data, file), warnings: [], source: file };
  if (data[0] === 0xff || data.includes(0)) {
    throw new UsageError('PARTITION_TABLE_INVALID', `${file} is neither a partition table binary nor a CSV`, {
      hint: 'give partition-table.bin from a build, or partitions.csv',
    });
  }
  const { partitions, warnings } = parsePartitionCsv(data.toString('utf8'), options);
  return { partitions, md5: true, warnings, source: file };
}

/** The table at `offset` on a connected device. */
export async function readDeviceTable(session: FlasherSession, offset = PARTITION_TABLE_OFFSET) {
  const raw = await session.loader.readFlash(offset, PARTITION_TABLE_SIZE);
  if (raw[0] === 0xff && raw[1] === 0xff) {
    throw new UsageError('PARTITION_TABLE_MISSING', `no partition table at 0x${hex(offset)} on the device`, {
      hint: 'flash a build first (kiln flash build/), or pass --offset if the table is elsewhere',
    });
  }
  return decodePartitionTable(raw, `the table at 0x${hex(offset)} on ${session.transport.port}`);
}

/** Reads the table from a device. Throws PortError/DeviceError, or UsageError when it has no valid table. */
export function partitionsFromDevice(options: DeviceOptions & { offset?: number }): Promise<PartitionsResult> {
  return withSession(options, async (session) => ({
    ...(await readDeviceTable(session, options.offset)),
    warnings: [],
    source: `${session.transport.port}@0x${hex(options.offset ?? PARTITION_TABLE_OFFSET)}`,
  }));
}
