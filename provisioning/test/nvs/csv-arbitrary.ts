/**
 * fast-check models of NVS CSVs: every type and encoding, multi-chunk blobs, several
 * namespaces (and a return to an earlier one), file rows, comments, quoting, and the
 * generator's Wi-Fi key quirks. Each case also carries the items a device should
 * read back (the round trip `kiln nvs dump` is checked against).
 */
import fc from 'fast-check';
import type { NvsItem, NvsPrimitive } from '../../src/index.ts';

export interface CsvCase {
  csv: string;
  files: Record<string, Buffer>;
  size: number;
  /** The items in the image, in write order; undefined when the Wi-Fi quirks make it long to model. */
  items: NvsItem[] | undefined;
}

const RANGES: Record<NvsPrimitive, [bigint, bigint]> = {
  u8: [0n, 255n],
  i8: [-128n, 127n],
  u16: [0n, 65535n],
  i16: [-32768n, 32767n],
  u32: [0n, 4294967295n],
  i32: [-2147483648n, 2147483647n],
  u64: [0n, 18446744073709551615n],
  i64: [-9223372036854775808n, 9223372036854775807n],
};

const quote = (s: string) => (/[",\n]/.test(s) || s !== s.trim() ? `"${s.replaceAll('"', '""')}"` : s);

type Value =
  | { enc: NvsPrimitive; v: bigint }
  | { enc: 'string'; v: string }
  | { enc: 'hex2bin' | 'base64' | 'binary'; v: Buffer; upper: boolean; file: boolean }
  | { enc: 'blob_fill' | 'blob_sz_fill'; v: string; n: number; pad: number };

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const blobBytes = fc.oneof(
  { weight: 4, arbitrary: bytes(200) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 3000, max: 9000 })
      .chain((n) => bytes(n).map((b) => Buffer.concat([b, Buffer.alloc(n - b.length, n & 0xff)]))),
  },
);

const value: fc.Arbitrary<Value> = fc.oneof(
  fc
    .constantFrom(...(Object.keys(RANGES) as NvsPrimitive[]))
    .chain((enc) => fc.bigInt({ min: RANGES[enc][0], max: RANGES[enc][1] }).map((v) => ({ enc, v }) as Value)),
  fc
    .oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.string({ minLength: 200, maxLength: 1500 }),
    )
    .filter((s) => !s.includes('\r') && !s.includes('\0') && !/(^|\n)#/.test(s))
    .map((v) => ({ enc: 'string', v }) as Value),
  fc.record({
    enc: fc.constantFrom('hex2bin', 'base64'),
    v: blobBytes,
    upper: fc.boolean(),
    file: fc.boolean(),
  }) as fc.Arbitrary<Value>,
  fc.record({
    enc: fc.constant('binary'),
    v: fc
      .string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 })
      .map((s) => Buffer.from(s, 'latin1')),
    upper: fc.constant(false),
    file: fc.boolean(),
  }) as fc.Arbitrary<Value>,
  fc
    .record({
      enc: fc.constantFrom('blob_fill', 'blob_sz_fill'),
      n: fc.integer({ min: 0, max: 100 }),
      pad: fc.integer({ min: 0, max: 255 }),
    })
    .chain((r) =>
      fc
        .string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: r.n })
        .filter((s) => !s.includes('"') && !s.includes(','))
        .map((v) => ({ ...r, v }) as Value),
    ),
);

function decoded(v: Value): { type: NvsItem['type']; value: bigint | string | Buffer } {
  if (v.enc === 'string') return { type: 'string', value: v.v };
  if (v.enc === 'blob_fill' || v.enc === 'blob_sz_fill') {
    const given = Buffer.from(v.v, 'utf8');
    const size = Buffer.alloc(v.enc === 'blob_sz_fill' ? 4 : 0);
    if (size.length) size.writeUInt32LE(given.length);
    return { type: 'blob', value: Buffer.concat([size, given, Buffer.alloc(v.n - given.length, v.pad)]) };
  }
  if (v.enc === 'hex2bin' || v.enc === 'base64' || v.enc === 'binary') return { type: 'blob', value: v.v };
  return { type: v.enc, value: v.v };
}

export const csvCase: fc.Arbitrary<CsvCase> = fc
  .record({
    namespaces: fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_.]{0,14}$/), { minLength: 1, maxLength: 4 }),
    rows: fc.array(fc.record({ ns: fc.nat(3), v: value, comment: fc.boolean() }), { minLength: 0, maxLength: 40 }),
    revisit: fc.boolean(),
    wifi: fc.constantFrom('none', 'none', 'none', 'sta', 'ap'),
    extraPages: fc.integer({ min: -1, max: 3 }),
  })
  .map(({ namespaces, rows, revisit, wifi, extraPages }) => {
    const lines = ['key,type,encoding,value'];
    const files: Record<string, Buffer> = {};
    const items: NvsItem[] = [];
    let latest = '';
    let bytesUsed = 0;
    const sorted = [...rows].sort((a, b) => (a.ns % namespaces.length) - (b.ns % namespaces.length));
    let current = -1;
    const emitted = new Set<number>();
    sorted.forEach((row, i) => {
      const nsIndex = row.ns % namespaces.length;
      const ns = namespaces[nsIndex] as string;
      if (nsIndex !== current) {
        lines.push(`${ns},namespace,,`);
        current = nsIndex;
        latest = ns;
        emitted.add(nsIndex);
        if (revisit && emitted.has(0) && nsIndex > 0) lines.push(`${namespaces[0]},namespace,,`); // the quirk: rows stay in `ns`
      }
      if (row.comment) lines.push(`# comment ${i}, "with quotes"`);
      const key = `k${i}`;
      const v = row.v;
      let cell: string;
      let type = 'data';
      if (v.enc === 'hex2bin' || v.enc === 'base64' || v.enc === 'binary') {
        const text =
          v.enc === 'hex2bin'
            ? v.v.toString('hex')
            : v.enc === 'base64'
              ? v.v.toString('base64')
              : v.v.toString('latin1');
        const shown = v.enc === 'hex2bin' && v.upper ? ` ${text.toUpperCase()} ` : text;
        if (v.file) {
          files[`${key}.dat`] = v.enc === 'binary' ? v.v : Buffer.from(shown);
          type = 'file';
          cell = `${key}.dat`;
        } else cell = quote(shown);
      } else
        cell = quote(v.enc === 'string' || v.enc === 'blob_fill' || v.enc === 'blob_sz_fill' ? v.v : v.v.toString());
      const enc =
        v.enc === 'blob_fill' || v.enc === 'blob_sz_fill'
          ? `${v.enc}(${v.n};0x${v.pad.toString(16).padStart(2, '0')})`
          : v.enc;
      lines.push(`${key},${type},${enc},${cell}`);
      const d = decoded(v);
      items.push({ namespace: latest, key, ...d } as NvsItem);
      bytesUsed +=
        64 + (Buffer.isBuffer(d.value) ? d.value.length : typeof d.value === 'string' ? Buffer.byteLength(d.value) : 0);
    });
    if (sorted.length > 0 && wifi === 'sta')
      lines.push('sta.ssid,data,blob_sz_fill(32;0x00),KilnLab', 'sta.pswd,data,blob_fill(64;0x00),secret');
    if (sorted.length > 0 && wifi === 'ap')
      lines.push('ap.ssid,data,string,KilnAP', 'ap.passwd,data,string,password1', 'ap.authmode,data,u8,3');
    const pages = Math.ceil((bytesUsed * 1.2) / 3500) + 1;
    const size = Math.max(3, pages + 1 + extraPages) * 4096;
    return { csv: `${lines.join('\n')}\n`, files, size, items: wifi === 'none' ? items : undefined };
  });
