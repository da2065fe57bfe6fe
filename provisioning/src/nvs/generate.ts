/**
 * `kiln nvs gen`: an NVS partition image from a CSV, byte-identical to Espressif's
 * esp-idf-nvs-partition-gen (`generate`) for the same CSV — its quirks included:
 * - a row after a namespace row seen before still goes to the latest *new* namespace;
 * - the first `sta.ssid` or `sta.pswd` key (any namespace) adds `sta.apinfo`, `sta.pmk`
 *   and `sta.apsw` after it; `ap.ssid`+`ap.passwd`+`ap.authmode`≠0 add `ap.pmk_info`
 *   (PBKDF2-SHA1) before the row that completes them, and again after each later ap.* row;
 * - `blob_fill(N;0xPP)` / `blob_sz_fill(N;0xPP)` become hex2bin blobs;
 * - base64 is decoded leniently (characters outside the alphabet are skipped);
 * - partitions of 0x1000 and 0x2000 bytes are read-only: no reserved page, and the
 *   image stops after the last used page.
 * Input the generator would crash on or silently mangle is refused with the CSV line.
 */
import { pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { KilnError, UsageError } from '@kiln/protocol';
import { type NvsCsvRow, parseNvsCsv } from './csv.ts';
import { type NvsItem, type NvsPrimitive, type NvsVersion, PRIMITIVES } from './format.ts';
import { NvsWriter } from './writer.ts';

export interface NvsGenOptions {
  size: number;
  version?: NvsVersion;
  /** Where `file` rows' relative paths start (the generator uses its working directory). */
  baseDir?: string;
  /** Name of the CSV in error messages. */
  name?: string;
}

/** The partition image for an NVS CSV's text. */
export function generateNvs(csv: string, options: NvsGenOptions): Buffer {
  return generateNvsRows(parseNvsCsv(csv, options.name), options);
}

export function generateNvsRows(rows: readonly NvsCsvRow[], options: NvsGenOptions): Buffer {
  const w = new NvsWriter(options.size, options.version ?? 2);
  const state: WifiState = { staDone: false };
  const where = options.name ?? 'CSV';
  for (const row of rows) {
    try {
      writeRow(w, row, state, options.baseDir ?? process.cwd());
    } catch (e) {
      if (e instanceof KilnError) {
        throw new UsageError(e.code, `${where} line ${row.line} (key '${row.key}'): ${e.message}`, {
          hint: e.hint,
          cause: e,
        });
      }
      throw e;
    }
  }
  return w.finish();
}

interface WifiState {
  staDone: boolean;
  apSsid?: string | undefined;
  apPasswd?: string | undefined;
  apAuthmode?: string | undefined;
}

function writeRow(w: NvsWriter, row: NvsCsvRow, state: WifiState, baseDir: string): void {
  const { key, type } = row;
  if (key.length === 0) throw new UsageError('nvs-csv', 'the key is empty');
  if (key.length > 15) throw new UsageError('nvs-csv', `the key is ${key.length} characters; at most 15`);
  if (!/^[\x20-\x7e]+$/.test(key)) throw new UsageError('nvs-csv', 'keys are printable ASCII');
  if (type !== 'namespace' && type !== 'data' && type !== 'file') {
    throw new UsageError('nvs-csv', `type '${type}': one of namespace, data, file`);
  }
  if (type !== 'namespace' && w.latestNamespace === 0) {
    throw new UsageError('nvs-csv', 'a data row before any namespace row', {
      hint: "start the CSV with a namespace row, e.g. 'storage,namespace,,'",
    });
  }
  const value = row.value;
  if (key === 'ap.ssid' || key === 'ap.passwd' || key === 'ap.authmode') {
    if (key === 'ap.ssid') state.apSsid = value;
    if (key === 'ap.passwd') state.apPasswd = value;
    if (key === 'ap.authmode' && value !== '0') state.apAuthmode = value;
    if (state.apSsid && state.apPasswd && state.apAuthmode) {
      const pmk = pbkdf2Sync(Buffer.from(state.apPasswd, 'utf8'), Buffer.from(state.apSsid, 'utf8'), 4096, 32, 'sha1');
      entry(w, 'ap.pmk_info', Buffer.concat([Buffer.alloc(100), pmk]).toString('hex'), 'hex2bin');
    }
  }
  if (key === 'sta.ssid' || key === 'sta.pswd') {
    // The generator writes these as data whatever the row's type says (a file row: the path itself).
    entry(w, key, value, row.encoding);
    if (!state.staDone) {
      entry(w, 'sta.apinfo', 'f'.repeat(280), 'hex2bin');
      entry(w, 'sta.pmk', '0'.repeat(64), 'hex2bin');
      entry(w, 'sta.apsw', '0000', 'hex2bin');
      state.staDone = true;
    }
    return;
  }
  if (type === 'namespace') {
    w.namespace(key);
    return;
  }
  if (type === 'file') {
    if (value === undefined || value === '') throw new UsageError('nvs-csv', 'a file row needs a path in value');
    if (row.encoding.startsWith('blob_')) {
      throw new UsageError('nvs-csv', `${row.encoding} takes a value, not a file`);
    }
    const path = isAbsolute(value) ? value : resolve(baseDir, value);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new UsageError('nvs-file', `cannot read ${path}: ${(e as Error).message}`, {
        hint: 'relative paths start at the current directory',
      });
    }
    entry(w, key, bytes, row.encoding);
    return;
  }
  entry(w, key, value, row.encoding);
}

const FILL = /^(blob_fill|blob_sz_fill)\((\d+);(0x[0-9a-fA-F]{2})\)/;

/** NVS.write_entry: decode the value by its encoding and write it under the latest namespace. */
function entry(w: NvsWriter, key: string, raw: string | Buffer | undefined, encoding: string): void {
  const ns = w.latestNamespace;
  let value = raw;
  let enc = encoding;
  if (enc.startsWith('blob_fill') || enc.startsWith('blob_sz_fill')) {
    const m = FILL.exec(enc);
    if (!m) throw new UsageError('nvs-encoding', `'${enc}': write blob_fill(N;0xPP) or blob_sz_fill(N;0xPP)`);
    const length = Number(m[2]);
    const pad = Number.parseInt(m[3] ?? '0', 16);
    const given = Buffer.from(typeof value === 'string' ? value : '', 'utf8');
    if (given.length > length) {
      throw new UsageError('nvs-encoding', `the value is ${given.length} bytes, longer than ${enc}'s ${length}`);
    }
    const size = Buffer.alloc(m[1] === 'blob_sz_fill' ? 4 : 0);
    if (size.length) size.writeUInt32LE(given.length);
    value = Buffer.concat([size, given, Buffer.alloc(length - given.length, pad)]).toString('hex');
    enc = 'hex2bin';
  }
  if (enc !== enc.toLowerCase()) {
    throw new UsageError('nvs-encoding', `encoding '${enc}': write it in lower case`, {
      hint: 'the generator decodes only lower-case hex2bin/base64/string correctly',
    });
  }
  if (value === undefined) throw new UsageError('nvs-csv', 'the row has no value column');
  const text = () => (typeof value === 'string' ? value : utf8(value as Buffer));
  if (enc in PRIMITIVES) {
    w.primitive(ns, key, enc as NvsPrimitive, parseInteger(text(), enc as NvsPrimitive));
  } else if (enc === 'string') {
    w.varlen(ns, key, 'string', Buffer.from(`${text()}\0`, 'utf8'));
  } else if (enc === 'hex2bin') {
    const hex = typeof value === 'string' ? value.trim() : value.toString('latin1').trim();
    if (hex.length % 2 !== 0) throw new UsageError('nvs-encoding', 'hex2bin: an odd number of hex digits');
    if (!/^[0-9a-fA-F]*$/.test(hex))
      throw new UsageError('nvs-encoding', 'hex2bin: a character that is not a hex digit');
    w.varlen(ns, key, 'blob', Buffer.from(hex, 'hex'));
  } else if (enc === 'base64') {
    w.varlen(ns, key, 'blob', pythonBase64(typeof value === 'string' ? value : value.toString('latin1')));
  } else if (enc === 'binary') {
    if (typeof value === 'string' && [...value].some((c) => c.charCodeAt(0) > 0x7f)) {
      // The generator counts characters but writes UTF-8 bytes: the entry would be corrupt.
      throw new UsageError('nvs-encoding', 'binary data values must be ASCII', {
        hint: 'use hex2bin or base64 for other bytes, or a file row',
      });
    }
    w.varlen(ns, key, 'blob', typeof value === 'string' ? Buffer.from(value, 'latin1') : value);
  } else {
    throw new UsageError('nvs-encoding', `encoding '${enc}' is not one of ${ENCODINGS}`);
  }
}

export const ENCODINGS =
  'u8, i8, u16, i16, u32, i32, u64, i64, string, hex2bin, base64, binary, blob_fill(N;0xPP), blob_sz_fill(N;0xPP)';

function utf8(b: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    throw new UsageError('nvs-encoding', 'the file is not UTF-8 text');
  }
}

/** Python's int() of a CSV value, range-checked like struct.pack. */
function parseInteger(text: string, type: NvsPrimitive): bigint {
  const t = text.trim();
  if (!/^[+-]?\d+(_\d+)*$/.test(t)) throw new UsageError('nvs-encoding', `${type}: '${text}' is not a decimal integer`);
  const n = BigInt(t.replaceAll('_', ''));
  const { bytes, signed } = PRIMITIVES[type];
  const bits = BigInt(bytes * 8);
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (n < min || n > max) throw new UsageError('nvs-encoding', `${type}: ${n} is outside ${min}..${max}`);
  return n;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** binascii.a2b_base64 (non-strict): skips characters outside the alphabet, stops at complete padding. */
export function pythonBase64(text: string): Buffer {
  const out: number[] = [];
  let quad = 0;
  let left = 0;
  let pads = 0;
  for (const ch of text) {
    if (ch === '=') {
      if (quad >= 2 && quad + ++pads >= 4) return Buffer.from(out);
      continue;
    }
    const v = B64.indexOf(ch);
    if (v < 0) continue;
    pads = 0;
    if (quad === 1) out.push(((left << 2) | (v >> 4)) & 0xff);
    else if (quad === 2) out.push(((left << 4) | (v >> 2)) & 0xff);
    else if (quad === 3) out.push(((left << 6) | v) & 0xff);
    left = quad === 0 ? v : quad === 1 ? v & 0x0f : quad === 2 ? v & 0x03 : 0;
    quad = (quad + 1) % 4;
  }
  if (quad === 1) throw new UsageError('nvs-encoding', 'base64: one character too many (4n+1 data characters)');
  if (quad !== 0) throw new UsageError('nvs-encoding', 'base64: incorrect padding');
  return Buffer.from(out);
}

/**
 * Exact entries for these items, in the generator's layout, without the CSV quirks:
 * items grouped by namespace (first use order), strings as `string`, blobs as V2
 * blobs. Padded to `size` (also for read-only sizes). For the board's NVS hand-over.
 */
export function encodeNvs(unordered: readonly NvsItem[], size: number): Buffer {
  const w = new NvsWriter(size, 2);
  for (const item of groupByNamespace(unordered)) {
    for (const k of [item.namespace, item.key]) {
      if (k.length === 0 || k.length > 15 || !/^[\x20-\x7e]+$/.test(k)) {
        throw new UsageError('nvs-key', `NVS key '${k}': 1 to 15 printable ASCII characters`);
      }
    }
    w.namespace(item.namespace);
    const ns = w.latestNamespace;
    if (item.type === 'string') w.varlen(ns, item.key, 'string', Buffer.from(`${item.value}\0`, 'utf8'));
    else if (item.type === 'blob') w.varlen(ns, item.key, 'blob', item.value);
    else w.primitive(ns, item.key, item.type, item.value);
  }
  const out = Buffer.alloc(size, 0xff);
  w.finish().copy(out);
  return out;
}

/** Items grouped by namespace, namespaces in order of first use (stable within each). */
export function groupByNamespace(items: readonly NvsItem[]): NvsItem[] {
  const groups = new Map<string, NvsItem[]>();
  for (const item of items) {
    const g = groups.get(item.namespace);
    if (g) g.push(item);
    else groups.set(item.namespace, [item]);
  }
  return [...groups.values()].flat();
}
