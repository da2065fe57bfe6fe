/**
 * The ESP-IDF partition table (formats.md §3): 32-byte entries at 0x8000, an optional
 * MD5 row (`EB EB` + 14×FF + MD5 of the entries before it), ended by a row of 0xFF.
 * Pure format code, shared by the virtual board's bootloader and (later) `kiln
 * partitions`. Verification follows IDF's `esp_partition_table_verify`
 * (bootloader_support/src/flash_partitions.c) and keeps its error wording.
 */
import { createHash } from 'node:crypto';

export const PARTITION_TABLE_OFFSET = 0x8000;
/** gen_esp32part.py writes 0xC00 bytes; the bootloader maps this much. */
export const PARTITION_TABLE_MAX_LEN = 0xc00;
export const PARTITION_ENTRY_SIZE = 32;
export const PARTITION_MAGIC = 0x50aa;
export const PARTITION_MAGIC_MD5 = 0xebeb;
const MAX_ENTRIES = PARTITION_TABLE_MAX_LEN / PARTITION_ENTRY_SIZE;

export const PartitionType = { APP: 0x00, DATA: 0x01 } as const;
export const AppSubtype = { FACTORY: 0x00, OTA_0: 0x10, OTA_15: 0x1f, TEST: 0x20 } as const;
export const DataSubtype = { OTA: 0x00, PHY: 0x01, NVS: 0x02, COREDUMP: 0x03, NVS_KEYS: 0x04, EFUSE: 0x05 } as const;

export interface Partition {
  /** Row number in the table (the bootloader's `##` column). */
  index: number;
  label: string;
  type: number;
  subtype: number;
  offset: number;
  size: number;
  encrypted: boolean;
  readonly: boolean;
}

export type PartitionTableResult =
  | { ok: true; partitions: Partition[]; md5: 'valid' | 'absent' }
  | { ok: false; error: string };

/**
 * Parses and verifies a partition table as the bootloader does. `flashSize` bounds
 * the partitions (`g_rom_flashchip.chip_size`). A blank table fails at row 0, as
 * boards print it (`partition 0 invalid magic number 0xffff`).
 */
export function parsePartitionTable(bytes: Uint8Array, flashSize = Number.POSITIVE_INFINITY): PartitionTableResult {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, PARTITION_TABLE_MAX_LEN));
  const partitions: Partition[] = [];
  let md5: 'valid' | 'absent' = 'absent';
  for (let row = 0; row < MAX_ENTRIES && (row + 1) * PARTITION_ENTRY_SIZE <= buf.length; row++) {
    const at = row * PARTITION_ENTRY_SIZE;
    const magic = buf.readUInt16LE(at);
    if (magic === PARTITION_MAGIC) {
      const offset = buf.readUInt32LE(at + 4);
      const size = buf.readUInt32LE(at + 8);
      if (offset > flashSize || offset + size > flashSize) {
        return {
          ok: false,
          error: `partition ${row} invalid - offset 0x${hex(offset)} size 0x${hex(size)} exceeds flash chip size 0x${hex(flashSize)}`,
        };
      }
      const flags = buf.readUInt32LE(at + 28);
      partitions.push({
        index: partitions.length,
        label: cString(buf.subarray(at + 12, at + 28)),
        type: buf[at + 2] ?? 0,
        subtype: buf[at + 3] ?? 0,
        offset,
        size,
        encrypted: (flags & 1) !== 0,
        readonly: (flags & 2) !== 0,
      });
    } else if (magic === PARTITION_MAGIC_MD5) {
      if (md5 === 'valid') return { ok: false, error: 'Only one MD5 checksum is allowed' };
      const digest = createHash('md5').update(buf.subarray(0, at)).digest();
      if (!digest.equals(buf.subarray(at + 16, at + 32))) return { ok: false, error: 'Incorrect MD5 checksum' };
      md5 = 'valid';
    } else if (magic === 0xffff && buf[at + 2] === 0xff && buf[at + 3] === 0xff && row > 0) {
      return { ok: true, partitions, md5 };
    } else {
      return { ok: false, error: `partition ${row} invalid magic number 0x${magic.toString(16)}` };
    }
  }
  return { ok: false, error: 'partition table has no terminating entry, not valid' };
}

/** The bootloader's "Usage" column (bootloader_utility_load_partition_table). */
export function partitionUsage(p: Pick<Partition, 'type' | 'subtype'>): string {
  if (p.type === PartitionType.APP) {
    if (p.subtype === AppSubtype.FACTORY) return 'factory app';
    if (p.subtype === AppSubtype.TEST) return 'test app';
    if ((p.subtype & 0xf0) === 0x10) return 'OTA app';
    return 'Unknown app';
  }
  if (p.type === PartitionType.DATA) {
    const names: Record<number, string> = { 0: 'OTA data', 1: 'RF data', 2: 'WiFi data', 4: 'NVS keys', 5: 'efuse' };
    return names[p.subtype] ?? 'Unknown data';
  }
  return 'unknown';
}

/** What a bootloader needs from the table: factory, test, ota_N slots (by N), otadata. */
export interface BootPartitions {
  factory: Partition | undefined;
  test: Partition | undefined;
  /** ota[N] is ota_N; only ota_0 … ota_{count-1} are counted by the bootloader (app_count). */
  ota: Partition[];
  otadata: Partition | undefined;
}

export function bootPartitions(partitions: readonly Partition[]): BootPartitions {
  const out: BootPartitions = { factory: undefined, test: undefined, ota: [], otadata: undefined };
  const slots = new Map<number, Partition>();
  for (const p of partitions) {
    if (p.type === PartitionType.APP) {
      if (p.subtype === AppSubtype.FACTORY) out.factory = p;
      else if (p.subtype === AppSubtype.TEST) out.test = p;
      else if ((p.subtype & 0xf0) === 0x10) slots.set(p.subtype & 0x0f, p);
    } else if (p.type === PartitionType.DATA && p.subtype === DataSubtype.OTA) {
      out.otadata = p;
    }
  }
  // IDF stores ota[subtype & 0xF] and counts app_count; slots are used as 0 … count-1.
  for (let n = 0; n < slots.size; n++) {
    const slot = slots.get(n);
    if (!slot) break;
    out.ota.push(slot);
  }
  return out;
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString('latin1');
}

function hex(n: number): string {
  return n.toString(16);
}
