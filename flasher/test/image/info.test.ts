/** `kiln image info` reports the facts Espressif's `esptool image-info` reports, field by field. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { imageInfo } from '../../src/cmds/image.ts';
import { describeImage, formatImageReport, type ImageReport } from '../../src/image/info.ts';
import { FIXTURE_BUILD, Lab } from '../helpers.ts';

const ESPTOOL = fileURLToPath(new URL('../../../.venv/bin/esptool', import.meta.url));
const lab = new Lab();
afterAll(() => lab.close());

/** esptool image-info's output as facts: `Key: value` lines and the segment table. */
function esptoolFacts(file: string) {
  const r = spawnSync(ESPTOOL, ['image-info', file], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  expect(r.status, r.stderr).toBe(0);
  const fields = new Map<string, string>();
  const segments: string[][] = [];
  for (const line of r.stdout.split('\n')) {
    const seg = /^\s+(\d+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(.*)$/.exec(line);
    if (seg) segments.push(seg.slice(1, 6) as string[]);
    const kv = /^([A-Z][\w -]+?): (.*)$/.exec(line);
    if (kv?.[1] && kv[2] !== undefined) fields.set(kv[1], kv[2]);
  }
  return { fields, segments };
}

function compare(file: string, r: ImageReport) {
  const { fields, segments } = esptoolFacts(file);
  const f = (k: string) => fields.get(k);
  expect(Number(f('Image size')?.split(' ')[0])).toBe(r.size);
  expect(f('Detected image type')).toBe(r.chip?.toUpperCase());
  expect(Number(f('Entry point'))).toBe(r.entry);
  expect(Number(f('Segments'))).toBe(r.segmentCount);
  expect(f('Flash size')).toBe(r.flashSize);
  expect(f('Flash freq')).toBe(r.flashFreq);
  expect(f('Flash mode')).toBe(r.flashMode);
  expect(f('WP pin')).toBe(`0x${r.wpPin.toString(16)}${r.wpPin === 0xee ? ' (disabled)' : ''}`);
  expect(f('Chip ID')).toMatch(new RegExp(`^${r.chipId} \\(`));
  expect(f('Minimal chip revision')).toBe(`${r.minChipRev}, (legacy min_rev = ${r.legacyMinRev})`);
  expect(f('Maximal chip revision')).toBe(r.maxChipRev);
  expect(segments).toEqual(
    r.segments.map((s) => [
      String(s.index),
      `0x${s.length.toString(16).padStart(5, '0')}`,
      `0x${s.loadAddress.toString(16).padStart(8, '0')}`,
      `0x${s.fileOffset.toString(16).padStart(8, '0')}`,
      s.memoryTypes.join(', '),
    ]),
  );
  const c = r.checksum;
  expect(f('Checksum')).toBe(
    `0x${c.stored.toString(16)} (${c.valid ? 'valid' : `invalid - calculated 0x${c.computed.toString(16)}`})`,
  );
  expect(f('Validation hash')).toBe(
    r.sha256 ? `${r.sha256.computed} (${r.sha256.valid ? 'valid' : 'invalid'})` : undefined,
  );
  if (r.app) {
    expect(f('Project name')).toBe(r.app.projectName);
    expect(f('App version')).toBe(r.app.version);
    expect(f('Compile time')).toBe(r.app.compileTime);
    expect(f('ELF file SHA256')).toBe(r.app.elfSha256);
    expect(f('ESP-IDF')).toBe(r.app.idfVersion);
    expect(f('Minimal eFuse block revision')).toBe(r.app.minEfuseBlockRev);
    expect(f('Maximal eFuse block revision')).toBe(r.app.maxEfuseBlockRev);
    expect(f('MMU page size')).toBe(r.app.mmuPageSize);
    expect(Number(f('Secure version'))).toBe(r.app.secureVersion);
  } else {
    expect(f('Project name')).toBeUndefined();
  }
  expect(f('Bootloader version')).toBe(r.bootloader ? String(r.bootloader.version) : undefined);
}

describe('kiln image info', () => {
  it('reports what esptool image-info reports for the hello_world app and bootloader', () => {
    const app = imageInfo(join(FIXTURE_BUILD, 'hello_world.bin'));
    expect(app).toMatchObject({ chip: 'esp32', segmentCount: 5, checksum: { stored: 0x39, valid: true } });
    expect(app.sha256?.valid).toBe(true);
    expect(app.app?.projectName).toBe('hello_world');
    expect(app.error).toBeUndefined();
    compare(join(FIXTURE_BUILD, 'hello_world.bin'), app);
    const boot = imageInfo(join(FIXTURE_BUILD, 'bootloader/bootloader.bin'));
    expect(boot).toMatchObject({ segmentCount: 3, app: undefined, checksum: { valid: true } });
    compare(join(FIXTURE_BUILD, 'bootloader/bootloader.bin'), boot);
    expect(formatImageReport(app)).toContain('Checksum: 0x39 (valid)');
  });

  it('reports a corrupted copy as esptool does: checksum and hash invalid, the rest intact', () => {
    const data = readFileSync(join(FIXTURE_BUILD, 'hello_world.bin'));
    data[0x10100] = (data[0x10100] ?? 0) ^ 0x55;
    const file = lab.path('corrupt.bin');
    writeFileSync(file, data);
    const r = describeImage(data);
    expect(r.checksum.valid).toBe(false);
    expect(r.sha256?.valid).toBe(false);
    expect(r.error).toMatch(/Checksum failed/);
    compare(file, r);
  });

  it('refuses what is not an image, with exit code 2', () => {
    const table = join(FIXTURE_BUILD, 'partition_table/partition-table.bin');
    expect(() => imageInfo(table)).toThrow(expect.objectContaining({ code: 'IMAGE_NOT_ESP', exitCode: 2 }));
    expect(() => imageInfo(lab.path('none.bin'))).toThrow(expect.objectContaining({ code: 'IMAGE_FILE_MISSING' }));
  });
});
