/**
 * The ESP-IDF partition table binary (formats.md §3): reading it is the virtual board's
 * bootloader code (protocol/src/formats/partition-table.ts, IDF's esp_partition_table_verify);
 * writing it follows gen_esp32part.py's `to_binary`: 32-byte rows, the MD5 row, 0xFF to 0xC00.
 */
import { createHash } from 'node:crypto';
import * as partitionTable from '@kiln/protocol/formats/partition-table';
import { UsageError } from '../errors.ts';

export const PARTITION_TABLE_OFFSET = partitionTable.PARTITION_TABLE_OFFSET;
export const PARTITION_TABLE_SIZE = partitionTable.PARTITION_TABLE_MAX_LEN;

export interface Partition {
  label: string;
  type: number;
  subtype: number;
  offset: number;
  size: number;
  encrypted: boolean;
  readonly: boolean;
}

export const TYPES: Readonly<Record<string, number>> = {
  bootloader: 0x02,
  partition_table: 0x03,
  app: 0x00,
  data: 0x01,
};

/** gen_esp32part.py SUBTYPES (esp_partition_subtype_t), ota_0..15 and tee_0..1 included. */
export const SUBTYPES: Readonly<Record<number, Readonly<Record<string, number>>>> = {
  2: { primary: 0x00, ota: 0x01, recovery: 0x02 },
  3: { primary: 0x00, ota: 0x01 },
  0: {
    factory: 0x00,
    test: 0x20,
    ...Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`ota_${i}`, 0x10 + i])),
    tee_0: 0x30,
    tee_1: 0x31,
  },
  1: {
    ota: 0x00,
    phy: 0x01,
    nvs: 0x02,
    coredump: 0x03,
    nvs_keys: 0x04,
    efuse: 0x05,
    undefined: 0x06,
    esphttpd: 0x80,
    fat: 0x81,
    spiffs: 0x82,
    littlefs: 0x83,
    tee_ota: 0x90,
  },
};

export const FLAGS = { encrypted: 0, readonly: 1 } as const;

/** Reads a table as the bootloader does; throws UsageError with the bootloader's words when it would refuse it. */
export function decodePartitionTable(
  data: Uint8Array,
  what = 'the partition table',
): { partitions: Partition[]; md5: boolean } {
  const r = partitionTable.parsePartitionTable(data);
  if (!r.ok) {
    throw new UsageError('PARTITION_TABLE_INVALID', `${what} is not valid: ${r.error}`, {
      hint: 'regenerate it with kiln partitions gen (or idf.py partition-table), then flash it',
    });
  }
  return {
    partitions: r.partitions.map(({ label, type, subtype, offset, size, encrypted, readonly }) => ({
      label,
      type,
      subtype,
      offset,
      size,
      encrypted,
      readonly,
    })),
    md5: r.md5 === 'valid',
  };
}

/** gen_esp32part.py PartitionTable.to_binary. */
export function encodePartitionTable(partitions: readonly Partition[], options: { md5?: boolean } = {}): Buffer {
  const rows = partitions.map((p) => {
    const row = Buffer.alloc(32);
    row.writeUInt16LE(partitionTable.PARTITION_MAGIC, 0);
    row[2] = p.type;
    row[3] = p.subtype;
    row.writeUInt32LE(p.offset, 4);
    row.writeUInt32LE(p.size, 8);
    Buffer.from(p.label, 'utf8').copy(row, 12, 0, 16);
    row.writeUInt32LE((p.encrypted ? 1 << FLAGS.encrypted : 0) | (p.readonly ? 1 << FLAGS.readonly : 0), 28);
    return row;
  });
  let table = Buffer.concat(rows);
  if (options.md5 ?? true) {
    const md5Row = Buffer.alloc(16, 0xff);
    md5Row.writeUInt16LE(partitionTable.PARTITION_MAGIC_MD5, 0);
    table = Buffer.concat([table, md5Row, createHash('md5').update(table).digest()]);
  }
  if (table.length >= PARTITION_TABLE_SIZE) {
    throw new UsageError(
      'PARTITION_TABLE_TOO_LONG',
      `${partitions.length} partitions make a ${table.length}-byte table, longer than the 0x${PARTITION_TABLE_SIZE.toString(16)}-byte maximum`,
      {
        hint: `keep at most ${(options.md5 ?? true) ? 94 : 95} partitions (the MD5 row and the end marker need a row each)`,
      },
    );
  }
  return Buffer.concat([table, Buffer.alloc(PARTITION_TABLE_SIZE - table.length, 0xff)]);
}

export function typeName(type: number): string {
  return Object.entries(TYPES).find(([, v]) => v === type)?.[0] ?? String(type);
}

export function subtypeName(type: number, subtype: number): string {
  return Object.entries(SUBTYPES[type] ?? {}).find(([, v]) => v === subtype)?.[0] ?? String(subtype);
}
