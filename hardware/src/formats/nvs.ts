/**
 * The NVS partition binary (formats.md §2): read the items a device left in it, and
 * write items in exactly the layout Espressif's esp-idf-nvs-partition-gen produces
 * (format version 2; byte-identical, checked by hardware/test/nvs.test.ts).
 *
 * Reading follows the device's rules: pages with a valid header (ACTIVE or FULL, CRC
 * over bytes 4..27) in sequence order; entries whose bitmap says "written" and whose
 * header CRC holds; a later entry for the same namespace and key replaces an earlier
 * one; V2 blobs are BLOB_IDX plus their BLOB_DATA chunks (each with its data CRC), V1
 * blobs one entry. Entries that fail a check are skipped, as the device skips them.
 */
import { crc32 } from 'node:zlib';

export const NVS_PAGE_SIZE = 4096;
const ENTRIES = 126;
const FIRST_ENTRY = 64;
const ACTIVE = 0xfffffffe;
const FULL = 0xfffffffc;
const VERSION2 = 0xfe;
const CHUNK_ANY = 0xff;

export type NvsPrimitive = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64';

export type NvsItem =
  | { namespace: string; key: string; type: NvsPrimitive; value: bigint }
  | { namespace: string; key: string; type: 'string'; value: string }
  | { namespace: string; key: string; type: 'blob'; value: Buffer };

const PRIMITIVES: Record<NvsPrimitive, { code: number; bytes: number; signed: boolean }> = {
  u8: { code: 0x01, bytes: 1, signed: false },
  i8: { code: 0x11, bytes: 1, signed: true },
  u16: { code: 0x02, bytes: 2, signed: false },
  i16: { code: 0x12, bytes: 2, signed: true },
  u32: { code: 0x04, bytes: 4, signed: false },
  i32: { code: 0x14, bytes: 4, signed: true },
  u64: { code: 0x08, bytes: 8, signed: false },
  i64: { code: 0x18, bytes: 8, signed: true },
};
const SZ = 0x21;
const BLOB_V1 = 0x41;
const BLOB_DATA = 0x42;
const BLOB_IDX = 0x48;

/** IDF's CRC32 (formats.md §0): zlib's with 0xFFFFFFFF as the running value. */
export function nvsCrc32(data: Uint8Array): number {
  // Node answers 0 for no bytes (zlib's crc32 with a NULL buffer); Python keeps the start value.
  return data.length === 0 ? 0xffffffff : crc32(data, 0xffffffff) >>> 0;
}

function entryCrc(entry: Uint8Array): number {
  return nvsCrc32(Buffer.concat([entry.subarray(0, 4), entry.subarray(8, 32)]));
}

function keyOf(entry: Buffer): string {
  const raw = entry.subarray(8, 24);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? 16 : end).toString('latin1');
}

interface RawEntry {
  ns: number;
  type: number;
  chunk: number;
  key: string;
  entry: Buffer;
  payload: Buffer;
}

/** The items in an NVS partition, in the order their latest entries were written. */
export function parseNvs(partition: Uint8Array): NvsItem[] {
  const bytes = Buffer.from(partition.buffer, partition.byteOffset, partition.byteLength);
  const pages: { seq: number; at: number }[] = [];
  for (let at = 0; at + NVS_PAGE_SIZE <= bytes.length; at += NVS_PAGE_SIZE) {
    const state = bytes.readUInt32LE(at);
    if (state !== ACTIVE && state !== FULL) continue;
    if (bytes.readUInt32LE(at + 28) !== nvsCrc32(bytes.subarray(at + 4, at + 28))) continue;
    pages.push({ seq: bytes.readUInt32LE(at + 4), at });
  }
  pages.sort((a, b) => a.seq - b.seq);
  const live = new Map<string, RawEntry>();
  for (const { at } of pages) {
    for (let i = 0; i < ENTRIES; ) {
      const state = (bytes[at + 32 + (i >> 2)] ?? 0xff) >> ((i & 3) * 2);
      if ((state & 3) !== 2) {
        i++;
        continue;
      }
      const off = at + FIRST_ENTRY + i * 32;
      const entry = Buffer.from(bytes.subarray(off, off + 32));
      const span = entry[2] ?? 0;
      if (entry.readUInt32LE(4) !== entryCrc(entry) || span < 1 || i + span > ENTRIES) {
        i++;
        continue;
      }
      const raw: RawEntry = {
        ns: entry[0] ?? 0,
        type: entry[1] ?? 0,
        chunk: entry[3] ?? CHUNK_ANY,
        key: keyOf(entry),
        entry,
        payload: Buffer.from(bytes.subarray(off + 32, off + span * 32)),
      };
      const id = `${raw.ns}\0${raw.key}\0${raw.type === BLOB_DATA ? raw.chunk : 'item'}`;
      live.delete(id); // re-insert: Map order is then the order of the latest writes
      live.set(id, raw);
      i += span;
    }
  }
  const namespaces = new Map<number, string>();
  for (const e of live.values()) {
    if (e.ns === 0 && e.type === PRIMITIVES.u8.code) namespaces.set(e.entry[24] ?? 0, e.key);
  }
  const items: NvsItem[] = [];
  for (const e of live.values()) {
    const namespace = namespaces.get(e.ns);
    if (e.ns === 0 || namespace === undefined) continue;
    const item = decodeItem(e, namespace, live);
    if (item) items.push(item);
  }
  return items;
}

function varlen(e: RawEntry): Buffer | undefined {
  const size = e.entry.readUInt16LE(24);
  if (size > e.payload.length) return undefined;
  const data = e.payload.subarray(0, size);
  return e.entry.readUInt32LE(28) === nvsCrc32(data) ? data : undefined;
}

function decodeItem(e: RawEntry, namespace: string, live: Map<string, RawEntry>): NvsItem | undefined {
  const { key } = e;
  for (const [type, p] of Object.entries(PRIMITIVES) as [NvsPrimitive, (typeof PRIMITIVES)['u8']][]) {
    if (p.code !== e.type) continue;
    const bits = BigInt(p.bytes * 8);
    const raw = BigInt.asUintN(Number(bits), e.entry.readBigUInt64LE(24));
    return { namespace, key, type, value: p.signed ? BigInt.asIntN(Number(bits), raw) : raw };
  }
  if (e.type === SZ) {
    const data = varlen(e);
    if (!data || data.length === 0) return undefined;
    return { namespace, key, type: 'string', value: data.subarray(0, data.length - 1).toString('utf8') };
  }
  if (e.type === BLOB_V1) {
    const data = varlen(e);
    return data ? { namespace, key, type: 'blob', value: Buffer.from(data) } : undefined;
  }
  if (e.type === BLOB_IDX) {
    const total = e.entry.readUInt32LE(24);
    const count = e.entry[28] ?? 0;
    const start = e.entry[29] ?? 0;
    const parts: Buffer[] = [];
    for (let c = start; c < start + count; c++) {
      const chunk = live.get(`${e.ns}\0${key}\0${c}`);
      const data = chunk && varlen(chunk);
      if (!data) return undefined;
      parts.push(data);
    }
    const value = Buffer.concat(parts);
    return value.length === total ? { namespace, key, type: 'blob', value } : undefined;
  }
  return undefined;
}

class PageFull extends Error {}

/** One page being filled, as the generator's Page class fills it. */
class Page {
  readonly buf = Buffer.alloc(NVS_PAGE_SIZE, 0xff);
  entries = 0;

  constructor(seq: number) {
    this.buf.writeUInt32LE(ACTIVE, 0);
    this.buf.writeUInt32LE(seq, 4);
    this.buf[8] = VERSION2;
    this.buf.writeUInt32LE(nvsCrc32(this.buf.subarray(4, 28)), 28);
  }

  /** Writes whole 32-byte slots (data is padded with 0xFF) and marks each one written. */
  put(data: Uint8Array, slots: number): void {
    this.buf.set(data, FIRST_ENTRY + this.entries * 32);
    for (let i = 0; i < slots; i++) {
      const bit = this.entries * 2;
      this.buf[32 + (bit >> 3)] = (this.buf[32 + (bit >> 3)] ?? 0xff) & ~(1 << (bit & 7));
      this.entries++;
    }
  }
}

function header(ns: number, type: number, span: number, chunk: number, key: string): Buffer {
  const e = Buffer.alloc(32, 0xff);
  e[0] = ns;
  e[1] = type;
  e[2] = span;
  e[3] = chunk;
  e.fill(0, 8, 24);
  e.write(key, 8, 'latin1');
  return e;
}

function sealed(e: Buffer): Buffer {
  e.writeUInt32LE(entryCrc(e), 4);
  return e;
}

/**
 * The items grouped by namespace, namespaces in order of first use (stable within
 * each): the order they are written in, one CSV section per namespace. (The generator
 * files rows after a namespace row it has seen before under the latest namespace, so
 * a CSV must not come back to a namespace.)
 */
export function groupByNamespace(items: readonly NvsItem[]): NvsItem[] {
  const groups = new Map<string, NvsItem[]>();
  for (const item of items) {
    const g = groups.get(item.namespace);
    if (g) g.push(item);
    else groups.set(item.namespace, [item]);
  }
  return [...groups.values()].flat();
}

/**
 * The partition bytes esp-idf-nvs-partition-gen writes for these items: the CSV has
 * one section per namespace (groupByNamespace), each item a row `key,data,<type>,<value>`
 * (blobs as hex2bin, strings as string). Throws RangeError when they do not fit (the
 * last page stays reserved for NVS's garbage collection).
 */
export function encodeNvs(unordered: readonly NvsItem[], size: number): Buffer {
  const items = groupByNamespace(unordered);
  if (size % NVS_PAGE_SIZE !== 0 || size < 2 * NVS_PAGE_SIZE) {
    throw new RangeError(`an NVS partition of ${size} bytes: need a multiple of 4096, at least 8192`);
  }
  const maxPages = size / NVS_PAGE_SIZE - 1;
  const pages: Page[] = [];
  const newPage = (): Page => {
    const last = pages.at(-1);
    if (last && last.buf.readUInt32LE(0) === ACTIVE) last.buf.writeUInt32LE(FULL, 0);
    if (pages.length >= maxPages) throw new RangeError(`the NVS items do not fit in ${size} bytes`);
    const p = new Page(pages.length);
    pages.push(p);
    return p;
  };
  let page = newPage();
  const namespaces = new Map<string, number>();
  const retry = (write: (p: Page) => void) => {
    try {
      write(page);
    } catch (e) {
      if (!(e instanceof PageFull)) throw e;
      page = newPage();
      write(page);
    }
  };
  const primitive = (p: Page, ns: number, key: string, type: NvsPrimitive, value: bigint) => {
    if (p.entries >= ENTRIES) throw new PageFull();
    const e = header(ns, PRIMITIVES[type].code, 1, CHUNK_ANY, key);
    const n = PRIMITIVES[type].bytes;
    const raw = BigInt.asUintN(n * 8, value);
    for (let i = 0; i < n; i++) e[24 + i] = Number((raw >> BigInt(8 * i)) & 0xffn);
    p.put(sealed(e), 1);
  };
  for (const item of items) {
    checkKey(item.key);
    checkKey(item.namespace);
    let ns = namespaces.get(item.namespace);
    if (ns === undefined) {
      ns = namespaces.size + 1;
      if (ns > 254) throw new RangeError('more than 254 NVS namespaces');
      namespaces.set(item.namespace, ns);
      const index = ns;
      retry((p) => primitive(p, 0, item.namespace, 'u8', BigInt(index)));
    }
    const index = ns;
    if (item.type === 'string') {
      const data = Buffer.from(`${item.value}\0`, 'utf8');
      if (data.length > 4000) throw new RangeError(`string ${item.key} is longer than 4000 bytes`);
      retry((p) => {
        const slots = Math.ceil(data.length / 32);
        if (p.entries >= ENTRIES || p.entries + slots + 1 >= ENTRIES) throw new PageFull();
        const e = header(index, SZ, slots + 1, CHUNK_ANY, item.key);
        e.writeUInt16LE(data.length, 24);
        e.writeUInt32LE(nvsCrc32(data), 28);
        p.put(sealed(e), 1);
        p.put(data, slots);
      });
    } else if (item.type === 'blob') {
      if (page.entries >= ENTRIES) page = newPage();
      page = writeBlob(page, newPage, index, item.key, item.value);
    } else {
      const value = item.value;
      retry((p) => primitive(p, index, item.key, item.type, value));
    }
  }
  const out = Buffer.alloc(size, 0xff);
  pages.forEach((p, i) => {
    p.buf.copy(out, i * NVS_PAGE_SIZE);
  });
  return out;
}

/** write_varlen_binary_data: BLOB_DATA chunks filling each page's tailroom, then BLOB_IDX. */
function writeBlob(first: Page, newPage: () => Page, ns: number, key: string, data: Buffer): Page {
  let page = first;
  let offset = 0;
  let remaining = data.length;
  let count = 0;
  for (;;) {
    const tailroom = (ENTRIES - page.entries - 1) * 32;
    const size = Math.min(tailroom, remaining);
    remaining -= size;
    const slots = Math.ceil(size / 32);
    const chunk = data.subarray(offset, offset + size);
    const e = header(ns, BLOB_DATA, slots + 1, count, key);
    e.writeUInt16LE(size, 24);
    e.writeUInt32LE(nvsCrc32(chunk), 28);
    page.put(sealed(e), 1);
    page.put(chunk, slots);
    count++;
    if (remaining > 0 || tailroom - size < 32) page = newPage();
    offset += size;
    if (remaining === 0) {
      const idx = header(ns, BLOB_IDX, 1, CHUNK_ANY, key);
      idx.writeUInt32LE(data.length, 24);
      idx[28] = count;
      idx[29] = 0;
      page.put(sealed(idx), 1);
      return page;
    }
  }
}

function checkKey(key: string): void {
  if (key.length === 0 || key.length > 15 || !/^[\x20-\x7e]+$/.test(key)) {
    throw new RangeError(`NVS key '${key}': 1 to 15 printable ASCII characters`);
  }
}
