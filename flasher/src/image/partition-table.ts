/** Reading an ESP-IDF partition table binary (formats.md §3): 32-byte rows, an MD5 row, 0xFF padding. */
import { createHash } from 'node:crypto';

export const PARTITION_TABLE_OFFSET = 0x8000;
export const PARTITION_TABLE_SIZE = 0xc00;

export interface Partition {
  label: string;
  type: number;
  subtype: number;
  offset: number;
  size: number;
  flags: number;
}

export interface PartitionTable {
  partitions: Partition[];
  /** undefined when the table has no MD5 row; false when the row does not match. */
  md5Valid: boolean | undefined;
}

/** Parses a table; undefined when there is no table at all (first row erased or not a partition). */
export function parsePartitionTable(data: Uint8Array): PartitionTable | undefined {
  const partitions: Partition[] = [];
  let md5Valid: boolean | undefined;
  for (let at = 0; at + 32 <= data.length; at += 32) {
    const row = Buffer.from(data.subarray(at, at + 32));
    if (row[0] === 0xaa && row[1] === 0x50) {
      partitions.push({
        type: row[2] ?? 0,
        subtype: row[3] ?? 0,
        offset: row.readUInt32LE(4),
        size: row.readUInt32LE(8),
        label: row.subarray(12, 28).toString('latin1').replace(/\0.*$/s, ''),
        flags: row.readUInt32LE(28),
      });
    } else if (row[0] === 0xeb && row[1] === 0xeb) {
      const digest = createHash('md5').update(data.subarray(0, at)).digest();
      md5Valid = digest.equals(row.subarray(16, 32));
    } else {
      break;
    }
  }
  return partitions.length ? { partitions, md5Valid } : undefined;
}
