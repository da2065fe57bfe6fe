/**
 * The host build's ESP-IDF artefacts (issue 5, Deliver 4): firmware/build-host holds what
 * `idf.py build` leaves in build/, written by kiln-image-gen after kiln-device links. Checked
 * with Espressif's esptool (image-info, merge-bin) as the independent peer, and the partition
 * table against firmware/partitions.csv (gen_esp32part.py's own vector is ctest
 * test_kiln_partition_table).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_BIN, ensureDeviceBuilt, ROOT } from './helpers/device.ts';

const run = promisify(execFile);
const ESPTOOL = join(ROOT, '.venv', 'bin', 'esptool');
const BUILD = join(ROOT, 'firmware', 'build-host');
const VERSION = readFileSync(join(ROOT, 'firmware', 'version.txt'), 'utf8').trim();
const CHIPS = [
  { chip: 'esp32', dir: BUILD, id: 0, title: 'ESP32', bootloader: '0x1000' },
  { chip: 'esp32', dir: join(BUILD, 'targets', 'esp32'), id: 0, title: 'ESP32', bootloader: '0x1000' },
  { chip: 'esp32s3', dir: join(BUILD, 'targets', 'esp32s3'), id: 9, title: 'ESP32-S3', bootloader: '0x0' },
  { chip: 'esp32c3', dir: join(BUILD, 'targets', 'esp32c3'), id: 5, title: 'ESP32-C3', bootloader: '0x0' },
] as const;

async function esptool(cwd: string, ...args: string[]): Promise<string> {
  if (!existsSync(ESPTOOL)) {
    throw new Error(`esptool is not installed at ${ESPTOOL}: run 'bash scripts/setup.sh' in the repository`);
  }
  const { stdout, stderr } = await run(ESPTOOL, args, { cwd, timeout: 20_000 });
  return stdout + stderr;
}

interface FlashEntry {
  offset: string;
  file: string;
  encrypted: string;
}

let elfSha256 = '';
beforeAll(() => {
  ensureDeviceBuilt();
  if (!existsSync(join(BUILD, 'targets', 'esp32c3', 'flasher_args.json'))) {
    // A build directory from before the image step: build again (CMake adds it).
    rmSync(DEVICE_BIN);
    ensureDeviceBuilt();
  }
  elfSha256 = createHash('sha256').update(readFileSync(DEVICE_BIN)).digest('hex');
}, 300_000);

describe.each(CHIPS)('host build artefacts for $chip in $dir', ({ chip, dir, id, title, bootloader }) => {
  it('has an app image esptool validates, describing kiln-device', async () => {
    const out = await esptool(dir, 'image-info', 'kiln_firmware.bin');
    expect(out).toContain(`Detected image type: ${title}\n`);
    expect(out).toContain(`Chip ID: ${id} (${title})`);
    expect(out).toMatch(/Checksum: 0x[0-9a-f]{2} \(valid\)/);
    expect(out).toMatch(/Validation hash: [0-9a-f]{64} \(valid\)/);
    expect(out).toContain('Project name: kiln_firmware\n');
    expect(out).toContain(`App version: ${VERSION}\n`);
    expect(out).toContain(`ELF file SHA256: ${elfSha256}\n`);
    expect(out).toContain('ESP-IDF: kiln-host\n');
    expect(out).toMatch(/0 +0x[0-9a-f]+ +0x[0-9a-f]+ +0x00000018 +DROM/); // esp_app_desc_t at file offset 0x20
    expect(out).toMatch(/0x[0-9a-f]+ +0x(400d|4200)0020 +0x00010018 +IROM/); // MMU-aligned
    expect(out).not.toMatch(/invalid|warning/i);
  });

  it('has a bootloader image esptool validates', async () => {
    const out = await esptool(dir, 'image-info', join('bootloader', 'bootloader.bin'));
    expect(out).toContain(`Chip ID: ${id} (${title})`);
    expect(out).toMatch(/Checksum: 0x[0-9a-f]{2} \(valid\)/);
    expect(out).toMatch(/Validation hash: [0-9a-f]{64} \(valid\)/);
    expect(out).toContain('Bootloader Information');
    expect(out).not.toMatch(/invalid|warning/i);
  });

  it('has flasher_args.json in the ESP-IDF v5 shape, naming files that exist', () => {
    const args = JSON.parse(readFileSync(join(dir, 'flasher_args.json'), 'utf8'));
    const entry = (offset: string, file: string): FlashEntry => ({ offset, file, encrypted: 'false' });
    expect(args).toEqual({
      write_flash_args: [
        '--flash_mode',
        'dio',
        '--flash_size',
        '4MB',
        '--flash_freq',
        chip === 'esp32' ? '40m' : '80m',
      ],
      flash_settings: { flash_mode: 'dio', flash_size: '4MB', flash_freq: chip === 'esp32' ? '40m' : '80m' },
      flash_files: {
        [bootloader]: 'bootloader/bootloader.bin',
        '0x10000': 'kiln_firmware.bin',
        '0x8000': 'partition_table/partition-table.bin',
        '0xd000': 'ota_data_initial.bin',
      },
      bootloader: entry(bootloader, 'bootloader/bootloader.bin'),
      app: entry('0x10000', 'kiln_firmware.bin'),
      'partition-table': entry('0x8000', 'partition_table/partition-table.bin'),
      otadata: entry('0xd000', 'ota_data_initial.bin'),
      extra_esptool_args: { after: 'hard_reset', before: 'default_reset', stub: true, chip },
    });
    for (const file of Object.values(args.flash_files as Record<string, string>)) {
      expect(existsSync(join(dir, file)), file).toBe(true);
    }
    expect(readFileSync(join(dir, 'ota_data_initial.bin'))).toEqual(Buffer.alloc(0x2000, 0xff));
  });
});

describe('the partition table', () => {
  const bin = () => readFileSync(join(BUILD, 'partition_table', 'partition-table.bin'));

  it('holds firmware/partitions.csv, then the MD5 row and 0xFF padding to 0xC00', () => {
    const TYPES: Record<string, number> = { app: 0, data: 1 };
    const SUBTYPES: Record<string, number> = { nvs: 2, ota: 0, phy: 1, ota_0: 0x10, ota_1: 0x11, factory: 0 };
    const rows = readFileSync(join(ROOT, 'firmware', 'partitions.csv'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(',').map((f) => f.trim()));
    const table = bin();
    expect(table.length).toBe(0xc00);
    rows.forEach(([name, type, subtype, offset, size], i) => {
      const e = table.subarray(i * 32, i * 32 + 32);
      expect(e.readUInt16LE(0), name).toBe(0x50aa);
      expect([e[2], e[3]], name).toEqual([TYPES[type as string], SUBTYPES[subtype as string]]);
      expect(e.readUInt32LE(4), name).toBe(Number(offset));
      expect(e.readUInt32LE(8), name).toBe(Number(size));
      expect(e.subarray(12, 28).toString('latin1').replace(/\0+$/, ''), name).toBe(name);
      expect(e.readUInt32LE(28), name).toBe(0);
    });
    const md5At = rows.length * 32;
    expect(table.subarray(md5At, md5At + 16)).toEqual(Buffer.from([0xeb, 0xeb, ...Array(14).fill(0xff)]));
    expect(table.subarray(md5At + 16, md5At + 32)).toEqual(createHash('md5').update(table.subarray(0, md5At)).digest());
    expect(table.subarray(md5At + 32)).toEqual(Buffer.alloc(0xc00 - md5At - 32, 0xff));
  });
});

describe('esptool takes the build directory as an ESP-IDF one', () => {
  const out = mkdtempSync(join(tmpdir(), 'kiln-image-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('merges @flash_args into one flash image with everything at its offset', async () => {
    const merged = join(out, 'merged.bin');
    await esptool(BUILD, '--chip', 'esp32', 'merge-bin', '-o', merged, '@flash_args');
    const flash = readFileSync(merged);
    const app = readFileSync(join(BUILD, 'kiln_firmware.bin'));
    expect(flash.subarray(0x10000, 0x10000 + app.length)).toEqual(app);
    expect(flash.subarray(0x8000, 0x8c00)).toEqual(readFileSync(join(BUILD, 'partition_table', 'partition-table.bin')));
    expect(flash[0x1000]).toBe(0xe9);
    expect(flash.subarray(0xd000, 0xf000)).toEqual(Buffer.alloc(0x2000, 0xff));
  });
});
