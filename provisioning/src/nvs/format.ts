/**
 * The NVS page and entry codec (formats.md §2): constants, IDF's CRC32, entry
 * headers, and one page being filled the way esp-idf-nvs-partition-gen's Page class
 * fills it. No policy lives here: the generator (generate.ts) decides what goes
 * where, the dump (dump.ts) decides what a page means.
 */
import { crc32 } from 'node:zlib';

export const NVS_PAGE_SIZE = 4096;
export const ENTRIES_PER_PAGE = 126;
export const FIRST_ENTRY = 64;
export const ENTRY_SIZE = 32;
export const CHUNK_ANY = 0xff;

export const PAGE_STATE = {
  UNINIT: 0xffffffff,
  ACTIVE: 0xfffffffe,
  FULL: 0xfffffffc,
  FREEING: 0xfffffff8,
  CORRUPT: 0xfffffff0,
} as const;

/** Page header version byte: 0xFF is format version 1, 0xFE version 2. */
export const PAGE_VERSION = { 1: 0xff, 2: 0xfe } as const;
export type NvsVersion = 1 | 2;

export type NvsPrimitive = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64';

export const PRIMITIVES: Record<NvsPrimitive, { code: number; bytes: number; signed: boolean }> = {
  u8: { code: 0x01, bytes: 1, signed: false },
  i8: { code: 0x11, bytes: 1, signed: true },
  u16: { code: 0x02, bytes: 2, signed: false },
  i16: { code: 0x12, bytes: 2, signed: true },
  u32: { code: 0x04, bytes: 4, signed: false },
  i32: { code: 0x14, bytes: 4, signed: true },
  u64: { code: 0x08, bytes: 8, signed: false },
  i64: { code: 0x18, bytes: 8, signed: true },
};
export const TYPE = { SZ: 0x21, BLOB: 0x41, BLOB_DATA: 0x42, BLOB_IDX: 0x48 } as const;

/** nvs_tool's names for the type codes. */
export function typeName(code: number): string {
  for (const [name, p] of Object.entries(PRIMITIVES)) {
    if (p.code === code) return `${name.startsWith('u') ? 'uint' : 'int'}${p.bytes * 8}_t`;
  }
  if (code === TYPE.SZ) return 'string';
  if (code === TYPE.BLOB) return 'blob';
  if (code === TYPE.BLOB_DATA) return 'blob_data';
  if (code === TYPE.BLOB_IDX) return 'blob_index';
  return `0x${code.toString(16).padStart(2, '0')}`;
}

/** An item as a device sees it. */
export type NvsItem =
  | { namespace: string; key: string; type: NvsPrimitive; value: bigint }
  | { namespace: string; key: string; type: 'string'; value: string }
  | { namespace: string; key: string; type: 'blob'; value: Buffer };

/** IDF's CRC32 (formats.md §0): zlib's with 0xFFFFFFFF as the running value. */
export function nvsCrc32(data: Uint8Array): number {
  // Node answers 0 for no bytes (zlib's crc32 with a NULL buffer); Python keeps the start value.
  return data.length === 0 ? 0xffffffff : crc32(data, 0xffffffff) >>> 0;
}

/** The entry header CRC: over bytes 0..3 and 8..31. */
export function entryCrc(entry: Uint8Array): number {
  return nvsCrc32(Buffer.concat([entry.subarray(0, 4), entry.subarray(8, 32)]));
}

/** The page header CRC: over bytes 4..27. */
export function pageHeaderCrc(page: Uint8Array): number {
  return nvsCrc32(page.subarray(4, 28));
}

/** A fresh entry header: data bytes 0xFF, key NUL-padded. */
export function entryHeader(ns: number, type: number, span: number, chunk: number, key: string): Buffer {
  const e = Buffer.alloc(ENTRY_SIZE, 0xff);
  e[0] = ns;
  e[1] = type;
  e[2] = span;
  e[3] = chunk;
  e.fill(0, 8, 24);
  e.write(key, 8, 'latin1');
  return e;
}

/** Sets the header CRC and returns the entry. */
export function sealEntry(e: Buffer): Buffer {
  e.writeUInt32LE(entryCrc(e), 4);
  return e;
}

/** The key stored in an entry (up to the first NUL). */
export function entryKey(entry: Uint8Array): string {
  const raw = Buffer.from(entry.buffer, entry.byteOffset + 8, 16);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? 16 : end).toString('latin1');
}

/** The 2-bit state of entry i in a page's bitmap: 3 empty, 2 written, 0 erased. */
export function entryState(page: Uint8Array, i: number): number {
  return ((page[32 + (i >> 2)] ?? 0xff) >> ((i & 3) * 2)) & 3;
}

/** Thrown by PageWriter when an entry does not fit; the generator starts a new page. */
export class PageFull extends Error {}

/** One page being filled, as the generator's Page class fills it. */
export class PageWriter {
  readonly buf = Buffer.alloc(NVS_PAGE_SIZE, 0xff);
  entries = 0;

  /** A blank page (all 0xFF) when `blank`: the generator's empty and reserved pages. */
  constructor(
    seq: number,
    readonly version: NvsVersion,
    blank = false,
  ) {
    if (blank) return;
    this.buf.writeUInt32LE(PAGE_STATE.ACTIVE, 0);
    this.buf.writeUInt32LE(seq, 4);
    this.buf[8] = PAGE_VERSION[version];
    this.buf.writeUInt32LE(pageHeaderCrc(this.buf), 28);
  }

  get state(): number {
    return this.buf.readUInt32LE(0);
  }

  markFull(): void {
    if (this.state === PAGE_STATE.ACTIVE) this.buf.writeUInt32LE(PAGE_STATE.FULL, 0);
  }

  /** Writes data at the next entry, padded with 0xFF, and marks `slots` entries written. */
  put(data: Uint8Array, slots: number): void {
    this.buf.set(data, FIRST_ENTRY + this.entries * ENTRY_SIZE);
    for (let i = 0; i < slots; i++) {
      const bit = this.entries * 2;
      this.buf[32 + (bit >> 3)] = (this.buf[32 + (bit >> 3)] ?? 0xff) & ~(1 << (bit & 7));
      this.entries++;
    }
  }
}
