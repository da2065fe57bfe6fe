/**
 * The NVS partition format and the host build's NVS hand-over, checked against
 * Espressif's esp-idf-nvs-partition-gen (installed in .venv by scripts/setup.sh):
 * what the board writes is byte-identical to what the generator writes for the same
 * items, and the board reads the generator's partitions back item for item.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeNvs, groupByNamespace, type NvsItem, nvsCrc32, parseNvs } from '@kiln/provisioning';
import { afterAll, describe, expect, it } from 'vitest';
import { NvsHandover, parseKvFile } from '../src/boot/nvs-handover.ts';
import { FlashChip } from '../src/flash/flash-chip.ts';

const PYTHON = fileURLToPath(new URL('../../.venv/bin/python', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kiln-nvs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let runs = 0;
/** esp-idf-nvs-partition-gen's output for these items, as CSV rows. */
function generate(items: readonly NvsItem[], size: number): Buffer {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run 'bash scripts/setup.sh'`);
  const rows = ['key,type,encoding,value'];
  let ns: string | undefined;
  for (const item of groupByNamespace(items)) {
    if (item.namespace !== ns) {
      rows.push(`${item.namespace},namespace,,`);
      ns = item.namespace;
    }
    if (item.type === 'blob') rows.push(`${item.key},data,hex2bin,${item.value.toString('hex')}`);
    else if (item.type === 'string') rows.push(`${item.key},data,string,"${item.value.replaceAll('"', '""')}"`);
    else rows.push(`${item.key},data,${item.type},${item.value}`);
  }
  const n = ++runs;
  const csv = join(dir, `in-${n}.csv`);
  const out = join(dir, `out-${n}.bin`);
  writeFileSync(csv, `${rows.join('\n')}\n`);
  const r = spawnSync(PYTHON, ['-m', 'esp_idf_nvs_partition_gen', 'generate', csv, out, `0x${size.toString(16)}`], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (r.status !== 0) throw new Error(`nvs_partition_gen failed: ${r.stdout}${r.stderr}`);
  return readFileSync(out);
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const blob = (namespace: string, key: string, value: Buffer): NvsItem => ({ namespace, key, type: 'blob', value });

const MIXED: NvsItem[] = [
  { namespace: 'prov', key: 'ssid', type: 'string', value: 'MyAP' },
  blob('prov', 'devkey', Buffer.from('00112233445566778899aabbccddeeff', 'hex')),
  { namespace: 'prov', key: 'n', type: 'u8', value: 7n },
  { namespace: 'prov', key: 'i8', type: 'i8', value: -5n },
  { namespace: 'prov', key: 'u16', type: 'u16', value: 65535n },
  { namespace: 'prov', key: 'i16', type: 'i16', value: -30000n },
  { namespace: 'prov', key: 'u32', type: 'u32', value: 4000000000n },
  { namespace: 'prov', key: 'i32', type: 'i32', value: -2000000000n },
  { namespace: 'prov', key: 'u64', type: 'u64', value: 18446744073709551615n },
  { namespace: 'prov', key: 'i64', type: 'i64', value: -9223372036854775807n },
  { namespace: 'app', key: 'long', type: 'string', value: 'x'.repeat(3000) }, // does not fit page 0's rest
  blob('app', 'big', bytes(10_000, 1)), // spans three pages
  ...Array.from(
    { length: 150 },
    (_, i): NvsItem => ({ namespace: 'kiln', key: `k${i}`, type: 'u32', value: BigInt(i) }),
  ),
  blob('kiln', 'cert', bytes(1500, 2)),
  blob('kiln', 'empty', Buffer.alloc(0)),
  { namespace: 'app', key: 'late', type: 'string', value: 'ünïcode' }, // written with the other 'app' items
];

describe('NVS partition (formats.md §2)', () => {
  it('writes byte-identically to esp-idf-nvs-partition-gen, and reads its output back', () => {
    const small = MIXED.slice(0, 3);
    for (const [items, size] of [
      [[], 0x4000],
      [small, 0x3000],
      [MIXED, 0x10000],
    ] as const) {
      const reference = generate(items, size);
      const mine = encodeNvs(items, size);
      const diff = mine.findIndex((b, i) => b !== reference[i]);
      expect(
        diff,
        `size ${size} first diff at 0x${diff.toString(16)}: mine ${mine.subarray(diff & ~31, (diff & ~31) + 32).toString('hex')} ref ${reference.subarray(diff & ~31, (diff & ~31) + 32).toString('hex')}`,
      ).toBe(-1);
      expect(parseNvs(reference)).toEqual(groupByNamespace(items));
    }
  });

  it('keeps the latest entry of a key, skips erased entries and bad CRCs', () => {
    const image = encodeNvs(
      [blob('kiln', 'a', Buffer.from('01', 'hex')), blob('kiln', 'b', Buffer.from('02', 'hex'))],
      0x3000,
    );
    const later = encodeNvs([blob('kiln', 'a', Buffer.from('03', 'hex'))], 0x3000);
    // Page 1 of `image` becomes `later`'s page 0 with sequence number 1.
    const page = Buffer.from(later.subarray(0, 4096));
    page.writeUInt32LE(1, 4);
    page.writeUInt32LE(nvsCrc32(page.subarray(4, 28)), 28);
    page.copy(image, 4096);
    expect(parseNvs(image).map((i) => [i.key, (i.value as Buffer).toString('hex')])).toEqual([
      ['b', '02'],
      ['a', '03'],
    ]);
    // Page 0: namespace, a (BLOB_DATA, data, BLOB_IDX), b (BLOB_DATA at entry 4, data, BLOB_IDX at entry 6).
    const erased = Buffer.from(image);
    erased[32 + 1] = (erased[32 + 1] ?? 0) & ~(3 << 4); // entry 6's bitmap state: erased
    expect(parseNvs(erased).map((i) => i.key)).toEqual(['a']);
    const corrupt = Buffer.from(image);
    corrupt[64 + 32 * 4 + 20] = (corrupt[64 + 32 * 4 + 20] ?? 0) ^ 1; // a key byte of b's chunk: its CRC fails
    expect(parseNvs(corrupt).map((i) => i.key)).toEqual(['a']);
    expect(parseNvs(Buffer.alloc(0x3000, 0xff))).toEqual([]);
  });
});

describe('NVS hand-over to a Kiln host build', () => {
  it('hands the kiln blobs to the key-value file and writes changes back as the generator would', () => {
    const flash = FlashChip.inMemory(1 << 20);
    const region = { offset: 0x9000, size: 0x6000 };
    const before: NvsItem[] = [
      { namespace: 'nvs.net80211', key: 'opmode', type: 'u8', value: 1n },
      blob('kiln', 'name', Buffer.from('bench-1')),
      blob('kiln', 'token', bytes(700, 3)),
    ];
    flash.program(region.offset, generate(before, region.size));
    const file = join(dir, 'flash.nvs-0x9000.kv');
    const handover = new NvsHandover(flash, region, file);
    handover.handOver();
    const kv = parseKvFile(readFileSync(file, 'latin1'));
    expect([...kv.keys()]).toEqual(['name', 'token']);
    expect(kv.get('token')?.equals(bytes(700, 3))).toBe(true);
    expect(handover.writeBack()).toBe(false); // unchanged: the flash is left alone

    // The app changes a value, adds one and drops one (the file as kiln_port_host_sys.c writes it).
    writeFileSync(file, `name ${Buffer.from('bench-2').toString('hex')}\nwifi ${bytes(96, 4).toString('hex')}\n`);
    expect(handover.writeBack()).toBe(true);
    const expected = generate(
      [before[0] as NvsItem, blob('kiln', 'name', Buffer.from('bench-2')), blob('kiln', 'wifi', bytes(96, 4))],
      region.size,
    );
    expect(flash.read(region.offset, region.size).equals(expected)).toBe(true);

    // The next boot hands the new values over.
    new NvsHandover(flash, region, file).handOver();
    expect(readFileSync(file, 'latin1')).toBe(
      `name ${Buffer.from('bench-2').toString('hex')}\nwifi ${bytes(96, 4).toString('hex')}\n`,
    );
  });
});
