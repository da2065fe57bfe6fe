/**
 * `kiln partitions gen|show` against gen_esp32part.py's behaviour. No gen_esp32part
 * ships on PyPI, so the peers are: formats.md §3's vector (two_ota, MD5 digest), the
 * hello_world fixture's table (show → CSV → gen gives the same bytes), and the
 * firmware host build's table, made from firmware/partitions.csv by the C generator.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionsFromFile, partitionsGen } from '../../src/cmds/partitions.ts';
import { formatPartitionCsv, parsePartitionCsv } from '../../src/image/partition-csv.ts';
import { decodePartitionTable, encodePartitionTable } from '../../src/image/partition-table.ts';
import { FIXTURE_BUILD, Lab } from '../helpers.ts';

const lab = new Lab();
afterAll(() => lab.close());
const REPO = new URL('../../../', import.meta.url).pathname;

const TWO_OTA = `# Name,   Type, SubType, Offset,   Size, Flags
# Note: if you have increased the bootloader size, make sure to update the offsets to avoid overlap
nvs,      data, nvs,     ,        0x4000,
otadata,  data, ota,     ,        0x2000,
phy_init, data, phy,     ,        0x1000,
factory,  app,  factory, ,        1M,
ota_0,    app,  ota_0,   ,        1M,
ota_1,    app,  ota_1,   ,        1M,
`;

const gen = (csv: string, options = {}) => encodePartitionTable(parsePartitionCsv(csv, options).partitions);
const failure = (csv: string, options = {}) => {
  try {
    gen(csv, options);
  } catch (e) {
    return {
      code: (e as { code: string }).code,
      message: (e as Error).message,
      exitCode: (e as { exitCode: number }).exitCode,
    };
  }
  throw new Error('expected a failure');
};

describe('partition CSV → binary (gen_esp32part.py)', () => {
  it('matches the formats.md §3 vector for partitions_two_ota.csv: blank offsets aligned per type', () => {
    const bin = gen(TWO_OTA);
    expect(bin.length).toBe(0xc00);
    expect(bin.subarray(0, 16).toString('hex')).toBe(`aa50010200900000004000006e767300`);
    expect(bin.subarray(0xc0, 0xd0).toString('hex')).toBe(`ebeb${'ff'.repeat(14)}`);
    expect(bin.subarray(0xd0, 0xe0).toString('hex')).toBe('bf25822c0fa6d8641bd930251e06b4c4');
    expect(bin.subarray(0xe0).every((b) => b === 0xff)).toBe(true);
    expect(decodePartitionTable(bin).partitions.map((p) => [p.label, p.offset, p.size])).toEqual([
      ['nvs', 0x9000, 0x4000],
      ['otadata', 0xd000, 0x2000],
      ['phy_init', 0xf000, 0x1000],
      ['factory', 0x10000, 0x100000],
      ['ota_0', 0x110000, 0x100000],
      ['ota_1', 0x210000, 0x100000],
    ]);
  });

  it('round-trips the hello_world fixture table: show → CSV → gen gives the same bytes', () => {
    const file = join(FIXTURE_BUILD, 'partition_table/partition-table.bin');
    const shown = partitionsFromFile(file);
    expect(shown.md5).toBe(true);
    const csv = lab.path('fixture.csv');
    writeFileSync(csv, formatPartitionCsv(shown.partitions, { aligned: true }));
    partitionsGen(csv, lab.path('again.bin'));
    expect(readFileSync(lab.path('again.bin')).equals(readFileSync(file))).toBe(true);
  });

  it("gives firmware/partitions.csv the bytes of the firmware build's C generator", () => {
    const r = partitionsGen(join(REPO, 'firmware/partitions.csv'), lab.path('fw.bin'));
    expect(r.partitions).toHaveLength(5);
    const c = readFileSync(join(REPO, 'firmware/build-host/partition_table/partition-table.bin'));
    expect(readFileSync(lab.path('fw.bin')).equals(c)).toBe(true);
  });

  it('reads K/M suffixes, numeric types, flags, $VARS and --no-md5', () => {
    const csv =
      'nvs,data,nvs,0x9000,24K\nkeys,data,nvs_keys,,4K,encrypted\nro,data,nvs,,0x1000,readonly\napp0,app,factory,,1M,encrypted:readonly\ncustom,0x40,7,,$SZ\n';
    const { partitions } = parsePartitionCsv(csv, { env: { SZ: '8K' } });
    expect(partitions.map((p) => [p.label, p.type, p.subtype, p.offset, p.size, p.encrypted, p.readonly])).toEqual([
      ['nvs', 1, 2, 0x9000, 0x6000, false, false],
      ['keys', 1, 4, 0xf000, 0x1000, true, false],
      ['ro', 1, 2, 0x10000, 0x1000, false, true],
      ['app0', 0, 0, 0x20000, 0x100000, true, true],
      ['custom', 0x40, 7, 0x120000, 0x2000, false, false],
    ]);
    const rows = encodePartitionTable(partitions, { md5: false });
    expect(rows.readUInt32LE(3 * 32 + 28)).toBe(3);
    expect(rows.subarray(5 * 32, 6 * 32).every((b) => b === 0xff)).toBe(true);
  });

  it('refuses overlaps, misalignment, bad names and types, too many rows, each with exit code 2', () => {
    expect(failure('a,data,nvs,0x9000,0x4000\nb,data,phy,0xa000,0x1000\n').message).toMatch(
      /line 2: Partitions overlap/,
    );
    expect(failure('a,data,nvs,0x8000,0x4000\n').message).toMatch(/partition table occupies the whole sector/);
    expect(failure('a,app,factory,0x11000,1M\n').message).toMatch(/line 1: Offset 0x11000 is not aligned to 0x10000/);
    expect(failure('a,app,factory,0x10000,0x1800\n').message).toMatch(/Size 0x1800 is not aligned to 0x1000/);
    expect(failure('a-very-long-partition-name,data,nvs,,0x4000\n').message).toMatch(/longer than 16 bytes/);
    expect(failure('a,data,nvs,,0x4000\na,data,phy,,0x1000\n').message).toMatch(/names must be unique/);
    expect(failure('a,dta,nvs,,0x4000\n').message).toMatch(/Value 'dta' is not valid. Known keywords: bootloader/);
    expect(failure('a,app,,,1M\n').message).toMatch(/App partition cannot have an empty subtype/);
    expect(failure('a,data,nvs,,0x4000,secret\n').message).toMatch(/unknown flag 'secret'/);
    expect(failure('a,data,ota,,0x1000\n').message).toMatch(/otadata partition must have size = 0x2000/);
    expect(failure('a,data,nvs,,0x2000\n').message).toMatch(/must be flagged as 'readonly'/);
    expect(failure('a,data,nvs,,$NOPE\n', { env: {} }).message).toMatch(/unknown variable 'NOPE'/);
    expect(failure('a,app,factory,,4M\n', { flashSize: 4 << 20 }).message).toMatch(
      /does not fit in configured flash size 4MB/,
    );
    const many = (n: number) => Array.from({ length: n }, (_, i) => `p${i},data,undefined,,4K`).join('\n');
    expect(() => gen(many(94))).not.toThrow();
    const f = failure(many(95));
    expect(f).toMatchObject({ code: 'PARTITION_TABLE_TOO_LONG', exitCode: 2 });
    expect(encodePartitionTable(parsePartitionCsv(many(95)).partitions, { md5: false }).length).toBe(0xc00);
    expect(failure('a,data,nvs,,0x4000\n\u0000')).toMatchObject({ exitCode: 2 });
  });
});
