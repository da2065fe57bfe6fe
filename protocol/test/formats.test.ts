/** The pure format parsers: partition table, app image, otadata, against the real fixtures and vectors. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseImage } from '../src/formats/app-image.ts';
import { encodeOtaEntry, OtaState, otaSeqCrc, selectBootPartition } from '../src/formats/otadata.ts';
import { bootPartitions, parsePartitionTable, partitionUsage } from '../src/formats/partition-table.ts';

const FIXTURE = fileURLToPath(new URL('../../../shared/fixtures/esp-idf-builds/hello_world_esp32/', import.meta.url));
const table = readFileSync(`${FIXTURE}partition_table/partition-table.bin`);
const app = readFileSync(`${FIXTURE}hello_world.bin`);

function entry(type: number, subtype: number, offset: number, size: number, label: string): Buffer {
  const e = Buffer.alloc(32);
  e.writeUInt16LE(0x50aa, 0);
  e[2] = type;
  e[3] = subtype;
  e.writeUInt32LE(offset, 4);
  e.writeUInt32LE(size, 8);
  e.write(label, 12, 'latin1');
  return e;
}

function tableOf(...entries: Buffer[]): Buffer {
  const body = Buffer.concat(entries);
  const md5 = Buffer.concat([
    Buffer.from([0xeb, 0xeb]),
    Buffer.alloc(14, 0xff),
    createHash('md5').update(body).digest(),
  ]);
  return Buffer.concat([body, md5, Buffer.alloc(0xc00 - body.length - 32, 0xff)]);
}

describe('partition table', () => {
  it('reads the fixture with its MD5 row', () => {
    const r = parsePartitionTable(table, 2 << 20);
    expect(r.ok && r.md5).toBe('valid');
    if (!r.ok) return;
    expect(r.partitions.map((p) => [p.label, partitionUsage(p), p.offset, p.size])).toEqual([
      ['nvs', 'WiFi data', 0x9000, 0x6000],
      ['phy_init', 'RF data', 0xf000, 0x1000],
      ['factory', 'factory app', 0x10000, 0x100000],
    ]);
    expect(bootPartitions(r.partitions).factory?.offset).toBe(0x10000);
  });

  it('matches the gen_esp32part two_ota vector (formats.md §3)', () => {
    const t = tableOf(
      entry(1, 2, 0x9000, 0x4000, 'nvs'),
      entry(1, 0, 0xd000, 0x2000, 'otadata'),
      entry(1, 1, 0xf000, 0x1000, 'phy_init'),
      entry(0, 0, 0x10000, 0x100000, 'factory'),
      entry(0, 0x10, 0x110000, 0x100000, 'ota_0'),
      entry(0, 0x11, 0x210000, 0x100000, 'ota_1'),
    );
    expect(t.subarray(0xd0, 0xe0).toString('hex')).toBe('bf25822c0fa6d8641bd930251e06b4c4');
    const r = parsePartitionTable(t, 4 << 20);
    expect(r.ok).toBe(true);
    if (r.ok) expect(bootPartitions(r.partitions).ota.map((p) => p.label)).toEqual(['ota_0', 'ota_1']);
  });

  it('gives the bootloader errors: blank, bad MD5, bad magic, past the flash', () => {
    expect(parsePartitionTable(Buffer.alloc(0xc00, 0xff))).toEqual({
      ok: false,
      error: 'partition 0 invalid magic number 0xffff',
    });
    const badMd5 = Buffer.from(table);
    badMd5[0x70] = (badMd5[0x70] ?? 0) ^ 1;
    expect(parsePartitionTable(badMd5)).toEqual({ ok: false, error: 'Incorrect MD5 checksum' });
    const badMagic = Buffer.from(table);
    badMagic[0x20] = 0x12;
    expect(parsePartitionTable(badMagic)).toEqual({ ok: false, error: 'partition 1 invalid magic number 0x5012' });
    expect(parsePartitionTable(table, 1 << 20)).toMatchObject({
      ok: false,
      error: expect.stringContaining('exceeds flash chip size 0x100000'),
    });
  });
});

describe('app image', () => {
  it('reads the hello_world fixture as esptool image-info does', () => {
    const r = parseImage(app);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { image } = r;
    expect(image.header.chipId).toBe(0);
    expect(image.header.entry).toBe(0x400811f4);
    expect(image.segments.map((s) => [s.loadAddress, s.length, s.dataOffset])).toEqual([
      [0x3f400020, 0x88fc, 0x18 + 8],
      [0x3ffb0000, 0x1e7c, 0x891c + 8],
      [0x40080000, 0x5870, 0xa7a0 + 8],
      [0x400d0020, 0x15d6c, 0x10018 + 8],
      [0x40085870, 0x619c, 0x25d8c + 8],
    ]);
    expect(image.checksum).toEqual({ stored: 0x39, computed: 0x39 });
    expect(image.hash?.stored).toBe('9a1ba922d1011d235da184e8e62a17c86a10c062c72f36973a4facfc2d8490f5');
    expect(image.length).toBe(app.length);
    expect(image.appDescription).toMatchObject({
      projectName: 'hello_world',
      version: 'qa-test-v5.0.2-20230428-283-g96',
      idfVersion: 'v5.0.1-751-g96c4ec8df2',
      date: 'Jun  8 2023',
      time: '12:51:54',
      elfSha256: '07562ee9c224bd53ab2a326efab7e2cc2a5a0219c9042b8722f3495db4299943',
    });
  });

  it('fails on a flipped byte, a flipped hash byte, a blank partition and a short partition', () => {
    const flipped = Buffer.from(app);
    flipped[0x100] = (flipped[0x100] ?? 0) ^ 0x80;
    expect(parseImage(flipped)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^Checksum failed\. Calculated 0x[0-9a-f]+ read 0x39$/),
    });
    const hash = Buffer.from(app);
    hash[app.length - 1] = (hash[app.length - 1] ?? 0) ^ 1;
    expect(parseImage(hash)).toMatchObject({ ok: false, error: 'Image hash failed - image is corrupt' });
    expect(parseImage(Buffer.alloc(64, 0xff))).toMatchObject({
      ok: false,
      error: 'image at 0x0 has invalid magic byte (nothing flashed here?)',
    });
    expect(parseImage(app, 0, 0x20000).ok).toBe(false);
  });
});

describe('otadata', () => {
  it('encodes the formats.md §6 vectors', () => {
    expect(otaSeqCrc(1)).toBe(0x4743989a);
    expect(otaSeqCrc(2)).toBe(0x55f63774);
    expect(encodeOtaEntry(1).toString('hex')).toBe(`01000000${'ff'.repeat(20)}ffffffff9a984347`);
  });

  it('selects factory, the highest valid seq, and ota_0 on blank data without factory', () => {
    const data = (a?: Buffer, b?: Buffer) => {
      const d = Buffer.alloc(0x2000, 0xff);
      a?.copy(d, 0);
      b?.copy(d, 0x1000);
      return d;
    };
    expect(selectBootPartition(data(), 2, true)).toMatchObject({ start: 'factory' });
    expect(selectBootPartition(data(), 2, false)).toMatchObject({ start: 0, initial: true });
    expect(selectBootPartition(data(encodeOtaEntry(1), encodeOtaEntry(2)), 2, true)).toMatchObject({ start: 1 });
    expect(selectBootPartition(data(encodeOtaEntry(3), encodeOtaEntry(2)), 2, true)).toMatchObject({ start: 0 });
    expect(selectBootPartition(data(encodeOtaEntry(4, OtaState.INVALID), encodeOtaEntry(2)), 2, true)).toMatchObject({
      start: 1,
    });
    const badCrc = encodeOtaEntry(2);
    badCrc[28] = 0;
    expect(selectBootPartition(data(badCrc, encodeOtaEntry(5, OtaState.ABORTED)), 2, true)).toMatchObject({
      start: 'factory',
    });
    expect(selectBootPartition(undefined, 0, true)).toMatchObject({ start: 'factory' });
  });
});
