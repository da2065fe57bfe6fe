/**
 * `kiln nvs dump`: read an NVS partition as a device does and report what is in it
 * and what is wrong with it, like ESP-IDF's nvs_tool (components/nvs_flash/
 * nvs_partition_tool): page headers (state, sequence, version, CRC), every entry
 * (state, namespace, type, span, chunk, CRC, key, value), and the items.
 *
 * Items follow the device's rules: pages with a valid header (ACTIVE or FULL) in
 * sequence order; entries the bitmap marks written whose header CRC holds; a later
 * entry for the same namespace and key replaces an earlier one; V2 blobs are BLOB_IDX
 * plus their BLOB_DATA chunks (each with its data CRC), V1 blobs one entry. Entries
 * that fail a check are skipped, as the device skips them, and reported as problems.
 */
import {
  CHUNK_ANY,
  ENTRIES_PER_PAGE,
  ENTRY_SIZE,
  entryCrc,
  entryKey,
  entryState,
  FIRST_ENTRY,
  NVS_PAGE_SIZE,
  type NvsItem,
  type NvsPrimitive,
  nvsCrc32,
  PAGE_STATE,
  PRIMITIVES,
  pageHeaderCrc,
  TYPE,
  typeName,
} from './format.ts';

export interface NvsDumpEntry {
  index: number;
  state: 'written' | 'erased' | 'empty' | 'invalid';
  ns: number;
  type: string;
  span: number;
  chunkIndex: number;
  crcOk: boolean;
  key: string;
  /** Primitive value, or the size / chunk count of a variable-length entry. */
  summary: string;
}

export interface NvsDumpPage {
  index: number;
  address: number;
  state: 'empty' | 'active' | 'full' | 'freeing' | 'corrupt' | 'invalid';
  seq?: number;
  version?: number;
  crcOk?: boolean;
  entries: NvsDumpEntry[];
}

export interface NvsDump {
  pages: NvsDumpPage[];
  namespaces: Record<string, number>;
  items: NvsItem[];
  problems: string[];
}

interface RawEntry {
  ns: number;
  type: number;
  chunk: number;
  key: string;
  entry: Buffer;
  payload: Buffer;
  where: string;
}

const STATES: Record<number, NvsDumpPage['state']> = {
  [PAGE_STATE.UNINIT]: 'empty',
  [PAGE_STATE.ACTIVE]: 'active',
  [PAGE_STATE.FULL]: 'full',
  [PAGE_STATE.FREEING]: 'freeing',
  [PAGE_STATE.CORRUPT]: 'corrupt',
};
const ENTRY_STATES = ['erased', 'invalid', 'written', 'empty'] as const;

function primitiveOf(code: number): [NvsPrimitive, (typeof PRIMITIVES)['u8']] | undefined {
  return (Object.entries(PRIMITIVES) as [NvsPrimitive, (typeof PRIMITIVES)['u8']][]).find(([, p]) => p.code === code);
}

function primitiveValue(entry: Buffer, p: (typeof PRIMITIVES)['u8']): bigint {
  const bits = p.bytes * 8;
  const raw = BigInt.asUintN(bits, entry.readBigUInt64LE(24));
  return p.signed ? BigInt.asIntN(bits, raw) : raw;
}

/** Everything in an NVS partition image, with every check nvs_tool makes. */
export function dumpNvs(partition: Uint8Array): NvsDump {
  const bytes = Buffer.from(partition.buffer, partition.byteOffset, partition.byteLength);
  const problems: string[] = [];
  if (bytes.length % NVS_PAGE_SIZE !== 0) {
    problems.push(
      `size ${bytes.length} is not a multiple of 4096: the last ${bytes.length % NVS_PAGE_SIZE} bytes are ignored`,
    );
  }
  const pages: NvsDumpPage[] = [];
  const valid: { seq: number; page: number; at: number }[] = [];
  for (let at = 0, n = 0; at + NVS_PAGE_SIZE <= bytes.length; at += NVS_PAGE_SIZE, n++) {
    const raw = bytes.readUInt32LE(at);
    const page: NvsDumpPage = { index: n, address: at, state: STATES[raw] ?? 'invalid', entries: [] };
    pages.push(page);
    if (page.state === 'empty') {
      if (!bytes.subarray(at, at + NVS_PAGE_SIZE).every((b) => b === 0xff)) {
        problems.push(`page ${n}: state is uninitialised but the page is not blank`);
      }
      continue;
    }
    page.seq = bytes.readUInt32LE(at + 4);
    page.version = bytes[at + 8] === 0xfe ? 2 : bytes[at + 8] === 0xff ? 1 : bytes[at + 8];
    page.crcOk = bytes.readUInt32LE(at + 28) === pageHeaderCrc(bytes.subarray(at, at + 32));
    if (page.state === 'invalid') problems.push(`page ${n}: unknown state 0x${raw.toString(16)}`);
    if (!page.crcOk) problems.push(`page ${n}: header CRC mismatch`);
    if ((page.state === 'active' || page.state === 'full') && page.crcOk) valid.push({ seq: page.seq, page: n, at });
    for (let i = 0; i < ENTRIES_PER_PAGE; i++) {
      const off = at + FIRST_ENTRY + i * ENTRY_SIZE;
      const e = bytes.subarray(off, off + ENTRY_SIZE);
      const state = ENTRY_STATES[entryState(bytes.subarray(at), i)] ?? 'invalid';
      page.entries.push(describeEntry(i, state, Buffer.from(e)));
    }
  }
  if (valid.filter((p) => pages[p.page]?.state === 'active').length > 1) problems.push('more than one ACTIVE page');
  const seqs = new Set<number>();
  for (const p of valid) {
    if (seqs.has(p.seq)) problems.push(`page ${p.page}: sequence number ${p.seq} is used twice`);
    seqs.add(p.seq);
  }
  valid.sort((a, b) => a.seq - b.seq);
  const live = new Map<string, RawEntry>();
  for (const { at, page } of valid) {
    for (let i = 0; i < ENTRIES_PER_PAGE; ) {
      const state = entryState(bytes.subarray(at), i);
      if (state !== 2) {
        if (state === 1) problems.push(`page ${page} entry ${i}: invalid bitmap state`);
        i++;
        continue;
      }
      const off = at + FIRST_ENTRY + i * ENTRY_SIZE;
      const entry = Buffer.from(bytes.subarray(off, off + ENTRY_SIZE));
      const where = `page ${page} entry ${i}`;
      const span = entry[2] ?? 0;
      if (entry.readUInt32LE(4) !== entryCrc(entry)) {
        problems.push(`${where} ('${entryKey(entry)}'): header CRC mismatch, skipped`);
        i++;
        continue;
      }
      if (span < 1 || i + span > ENTRIES_PER_PAGE) {
        problems.push(`${where} ('${entryKey(entry)}'): span ${span} runs past the page, skipped`);
        i++;
        continue;
      }
      const type = entry[1] ?? 0;
      const varlen = type === TYPE.SZ || type === TYPE.BLOB || type === TYPE.BLOB_DATA;
      const want = varlen ? 1 + Math.ceil(entry.readUInt16LE(24) / ENTRY_SIZE) : 1;
      if (span !== want) problems.push(`${where} ('${entryKey(entry)}'): span ${span}, its size needs ${want}`);
      for (let c = 1; c < span; c++) {
        if (entryState(bytes.subarray(at), i + c) !== 2)
          problems.push(`${where}: data entry ${i + c} is not marked written`);
      }
      const raw: RawEntry = {
        ns: entry[0] ?? 0,
        type,
        chunk: entry[3] ?? CHUNK_ANY,
        key: entryKey(entry),
        entry,
        payload: Buffer.from(bytes.subarray(off + ENTRY_SIZE, off + span * ENTRY_SIZE)),
        where,
      };
      const id = `${raw.ns}\0${raw.key}\0${raw.type === TYPE.BLOB_DATA ? raw.chunk : 'item'}`;
      live.delete(id); // re-insert: Map order is then the order of the latest writes
      live.set(id, raw);
      i += span;
    }
  }
  const byIndex = new Map<number, string>();
  const namespaces: Record<string, number> = {};
  for (const e of live.values()) {
    if (e.ns === 0 && e.type === PRIMITIVES.u8.code) {
      byIndex.set(e.entry[24] ?? 0, e.key);
      namespaces[e.key] = e.entry[24] ?? 0;
    }
  }
  const items: NvsItem[] = [];
  for (const e of live.values()) {
    if (e.ns === 0 || e.type === TYPE.BLOB_DATA) continue;
    const namespace = byIndex.get(e.ns);
    if (namespace === undefined) {
      problems.push(`${e.where} ('${e.key}'): namespace index ${e.ns} has no namespace entry`);
      continue;
    }
    const item = decodeItem(e, namespace, live, problems);
    if (item) items.push(item);
  }
  return { pages, namespaces, items, problems };
}

function describeEntry(index: number, state: NvsDumpEntry['state'], e: Buffer): NvsDumpEntry {
  const type = e[1] ?? 0;
  const p = primitiveOf(type);
  let summary = '';
  if (p) summary = primitiveValue(e, p[1]).toString();
  else if (type === TYPE.BLOB_IDX) summary = `Size=${e.readUInt32LE(24)}, ChunkCount=${e[28]}, ChunkStart=${e[29]}`;
  else if (type === TYPE.SZ || type === TYPE.BLOB || type === TYPE.BLOB_DATA) {
    summary = `Size=${e.readUInt16LE(24)}, CRC32=${e.readUInt32LE(28).toString(16)}`;
  }
  const blank = e.every((b) => b === 0xff);
  return {
    index,
    state,
    ns: e[0] ?? 0,
    type: blank ? '' : typeName(type),
    span: e[2] ?? 0,
    chunkIndex: e[3] ?? 0,
    crcOk: e.readUInt32LE(4) === entryCrc(e),
    key: blank ? '' : entryKey(e),
    summary,
  };
}

function varlen(e: RawEntry, problems: string[]): Buffer | undefined {
  const size = e.entry.readUInt16LE(24);
  if (size > e.payload.length) {
    problems.push(`${e.where} ('${e.key}'): size ${size} exceeds its span`);
    return undefined;
  }
  const data = e.payload.subarray(0, size);
  if (e.entry.readUInt32LE(28) !== nvsCrc32(data)) {
    problems.push(`${e.where} ('${e.key}'): data CRC mismatch`);
    return undefined;
  }
  return data;
}

function decodeItem(
  e: RawEntry,
  namespace: string,
  live: Map<string, RawEntry>,
  problems: string[],
): NvsItem | undefined {
  const { key } = e;
  const p = primitiveOf(e.type);
  if (p) return { namespace, key, type: p[0], value: primitiveValue(e.entry, p[1]) };
  if (e.type === TYPE.SZ) {
    const data = varlen(e, problems);
    if (!data) return undefined;
    if (data.length === 0 || data[data.length - 1] !== 0) {
      problems.push(`${e.where} ('${key}'): string without its NUL`);
      return undefined;
    }
    return { namespace, key, type: 'string', value: data.subarray(0, data.length - 1).toString('utf8') };
  }
  if (e.type === TYPE.BLOB) {
    const data = varlen(e, problems);
    return data ? { namespace, key, type: 'blob', value: Buffer.from(data) } : undefined;
  }
  if (e.type === TYPE.BLOB_IDX) {
    const total = e.entry.readUInt32LE(24);
    const count = e.entry[28] ?? 0;
    const start = e.entry[29] ?? 0;
    const parts: Buffer[] = [];
    for (let c = start; c < start + count; c++) {
      const chunk = live.get(`${e.ns}\0${key}\0${c}`);
      if (!chunk) {
        problems.push(`${e.where} ('${key}'): blob chunk ${c} is missing`);
        return undefined;
      }
      const data = varlen(chunk, problems);
      if (!data) return undefined;
      parts.push(data);
    }
    const value = Buffer.concat(parts);
    if (value.length !== total) {
      problems.push(`${e.where} ('${key}'): blob chunks hold ${value.length} bytes, the index says ${total}`);
      return undefined;
    }
    return { namespace, key, type: 'blob', value };
  }
  problems.push(`${e.where} ('${key}'): unknown type 0x${e.type.toString(16)}`);
  return undefined;
}

/** The items in an NVS partition, in the order their latest entries were written. */
export function parseNvs(partition: Uint8Array): NvsItem[] {
  return dumpNvs(partition).items;
}
