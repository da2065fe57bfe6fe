/**
 * The generator's NVS class (esp_idf_nvs_partition_gen, nvs_partition_gen.py): pages
 * are filled in order, a page that cannot take an entry is marked FULL and never
 * revisited, V2 blobs are split into BLOB_DATA chunks filling each page's tailroom
 * followed by a BLOB_IDX, and the image ends with blank pages and one reserved page
 * (read/write partitions) or stops after the last used page (read-only, < 0x3000).
 */
import { UsageError } from '@kiln/protocol';
import {
  CHUNK_ANY,
  ENTRIES_PER_PAGE,
  ENTRY_SIZE,
  entryHeader,
  NVS_PAGE_SIZE,
  type NvsPrimitive,
  type NvsVersion,
  nvsCrc32 as nvsCrc,
  PageFull,
  PageWriter,
  PRIMITIVES,
  sealEntry,
  TYPE,
} from './format.ts';

/** Largest string (with its NUL) and, in V1, blob: Page.PAGE_PARAMS['max_blob_size']. */
export const MAX_VARLEN = { 1: 1984, 2: 4000 } as const;

/** How the generator sizes a partition (check_size): pages for data, and read-only below 0x3000. */
export function checkNvsSize(size: number): { dataBytes: number; readOnly: boolean } {
  if (!Number.isInteger(size) || size % NVS_PAGE_SIZE !== 0) {
    throw new UsageError('nvs-size', `NVS partition size ${size}: must be a multiple of 4096 (0x1000)`, {
      hint: "give the size of the partition's row in the partition table, e.g. --size 0x6000",
    });
  }
  if (size < NVS_PAGE_SIZE) {
    throw new UsageError('nvs-size', `NVS partition size ${size}: at least 0x3000 (read-only: 0x1000)`);
  }
  if (size - NVS_PAGE_SIZE < 2 * NVS_PAGE_SIZE) return { dataBytes: size, readOnly: true };
  return { dataBytes: size - NVS_PAGE_SIZE, readOnly: false };
}

export class NvsWriter {
  readonly readOnly: boolean;
  private room: number | null;
  private readonly pages: PageWriter[] = [];
  private page: PageWriter;
  private namespaceCount = 0;
  private readonly written = new Map<string, number>();

  constructor(
    readonly size: number,
    readonly version: NvsVersion = 2,
  ) {
    const { dataBytes, readOnly } = checkNvsSize(size);
    this.room = dataBytes;
    this.readOnly = readOnly;
    this.page = this.newPage();
  }

  /** The index rows are filed under: the generator's namespace_count (the latest new namespace). */
  get latestNamespace(): number {
    return this.namespaceCount;
  }

  private newPage(blank = false, reserved = false): PageWriter {
    const last = this.pages.at(-1);
    if (last && !blank) last.markFull();
    if (this.room === 0) {
      throw new UsageError(
        'nvs-too-small',
        `the NVS data does not fit in a ${this.size}-byte (0x${this.size.toString(16)}) partition`,
        {
          hint: 'give a larger --size (and the same size in the partition table), or store less',
        },
      );
    }
    if (!reserved && this.room !== null) this.room -= NVS_PAGE_SIZE;
    const p = new PageWriter(this.pages.length, this.version, blank || reserved);
    this.pages.push(p);
    this.page = p;
    return p;
  }

  /** Runs a write on the current page, and once more on a new page if it did not fit. */
  private retry(write: (p: PageWriter) => void): void {
    try {
      write(this.page);
    } catch (e) {
      if (!(e instanceof PageFull)) throw e;
      write(this.newPage());
    }
  }

  /** write_namespace: a namespace seen before is not written again (and rows still go to the latest). */
  namespace(name: string): void {
    if (this.written.has(name)) return;
    if (this.namespaceCount >= 254) {
      throw new UsageError('nvs-namespaces', `namespace '${name}': NVS holds at most 254 namespaces`);
    }
    const index = ++this.namespaceCount;
    this.retry((p) => this.primitiveOn(p, 0, name, 'u8', BigInt(index)));
    this.written.set(name, index);
  }

  primitive(ns: number, key: string, type: NvsPrimitive, value: bigint): void {
    this.retry((p) => this.primitiveOn(p, ns, key, type, value));
  }

  private primitiveOn(p: PageWriter, ns: number, key: string, type: NvsPrimitive, value: bigint): void {
    if (p.entries >= ENTRIES_PER_PAGE) throw new PageFull();
    const e = entryHeader(ns, PRIMITIVES[type].code, 1, CHUNK_ANY, key);
    const n = PRIMITIVES[type].bytes;
    const raw = BigInt.asUintN(n * 8, value);
    for (let i = 0; i < n; i++) e[24 + i] = Number((raw >> BigInt(8 * i)) & 0xffn);
    p.put(sealEntry(e), 1);
  }

  /** write_varlen_data: a string (data includes its NUL) or a blob. */
  varlen(ns: number, key: string, kind: 'string' | 'blob', data: Buffer): void {
    const max = MAX_VARLEN[this.version];
    if ((this.version === 1 || kind === 'string') && data.length > max) {
      throw new UsageError('nvs-too-long', `key '${key}': ${data.length} bytes exceed the ${max}-byte limit`);
    }
    const slots = Math.ceil(data.length / ENTRY_SIZE);
    const spansPages = this.version === 2 && kind === 'blob';
    if (!spansPages && slots + 1 >= ENTRIES_PER_PAGE) {
      // The generator's own rule: it never uses a page's last entry, so it cannot place this even on a new page.
      throw new UsageError(
        'nvs-too-long',
        `key '${key}': ${data.length} bytes need ${slots + 1} entries; one page takes at most ${ENTRIES_PER_PAGE - 1} (${(ENTRIES_PER_PAGE - 2) * ENTRY_SIZE} bytes)`,
        { hint: kind === 'string' ? 'store it as a blob (hex2bin/base64/binary): V2 blobs span pages' : undefined },
      );
    }
    this.retry((p) => {
      if (p.entries >= ENTRIES_PER_PAGE) throw new PageFull();
      if (spansPages) {
        this.blobV2(ns, key, data);
        return;
      }
      if (p.entries + slots + 1 >= ENTRIES_PER_PAGE) throw new PageFull();
      const e = entryHeader(ns, kind === 'string' ? TYPE.SZ : TYPE.BLOB, slots + 1, CHUNK_ANY, key);
      e.writeUInt16LE(data.length, 24);
      e.writeUInt32LE(nvsCrc(data), 28);
      p.put(sealEntry(e), 1);
      p.put(data, slots);
    });
  }

  /** write_varlen_binary_data. */
  private blobV2(ns: number, key: string, data: Buffer): void {
    let offset = 0;
    let remaining = data.length;
    let count = 0;
    for (;;) {
      const page = this.page;
      const tailroom = (ENTRIES_PER_PAGE - page.entries - 1) * ENTRY_SIZE;
      const size = Math.min(tailroom, remaining);
      remaining -= size;
      const slots = Math.ceil(size / ENTRY_SIZE);
      const chunk = data.subarray(offset, offset + size);
      const e = entryHeader(ns, TYPE.BLOB_DATA, slots + 1, count, key);
      e.writeUInt16LE(size, 24);
      e.writeUInt32LE(nvsCrc(chunk), 28);
      page.put(sealEntry(e), 1);
      page.put(chunk, slots);
      count++;
      if (remaining > 0 || tailroom - size < ENTRY_SIZE) this.newPage();
      offset += size;
      if (remaining === 0) {
        const idx = entryHeader(ns, TYPE.BLOB_IDX, 1, CHUNK_ANY, key);
        idx.writeUInt32LE(data.length, 24);
        idx[28] = count;
        idx[29] = 0;
        this.page.put(sealEntry(idx), 1);
        return;
      }
    }
  }

  /** The image: every page, then blank pages up to the size (read/write), as the generator writes it. */
  finish(): Buffer {
    const used = Buffer.concat(this.pages.map((p) => p.buf));
    if (this.readOnly) return used;
    const out = Buffer.alloc(this.size, 0xff);
    used.copy(out);
    return out;
  }
}
