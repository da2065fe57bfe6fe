/** `kiln image merge` is byte-identical to Espressif's `esptool merge-bin` (raw format). */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeBin } from '../../src/cmds/image.ts';
import { FIXTURE_BUILD, Lab } from '../helpers.ts';

const ESPTOOL = fileURLToPath(new URL('../../../.venv/bin/esptool', import.meta.url));
const lab = new Lab();
afterAll(() => lab.close());

const BOOT = join(FIXTURE_BUILD, 'bootloader/bootloader.bin');
const TABLE = join(FIXTURE_BUILD, 'partition_table/partition-table.bin');
const APP = join(FIXTURE_BUILD, 'hello_world.bin');

function esptoolMerge(out: string, args: string[]): Buffer {
  const r = spawnSync(ESPTOOL, ['--chip', 'esp32', 'merge-bin', '-o', out, ...args], { encoding: 'utf8' });
  expect(r.status, r.stderr + r.stdout).toBe(0);
  return readFileSync(out);
}

describe('kiln image merge', () => {
  it('matches esptool merge-bin byte for byte: gaps, patched bootloader header and SHA, padding', () => {
    const flags = ['--flash-mode', 'dout', '--flash-freq', '80m', '--flash-size', '4MB', '--pad-to-size', '4MB'];
    const expected = esptoolMerge(lab.path('esptool.bin'), [...flags, '0x1000', BOOT, '0x8000', TABLE, '0x10000', APP]);
    const out = lab.path('kiln.bin');
    const r = mergeBin({
      inputs: [`${APP}@0x10000`, `${BOOT}@0x1000`, `${TABLE}@0x8000`],
      out,
      chip: 'esp32',
      mode: 'dout',
      freq: '80m',
      size: '4MB',
      padToSize: 4 << 20,
    });
    expect(r.size).toBe(4 << 20);
    expect(readFileSync(out).equals(expected)).toBe(true);
  });

  it('matches with a target offset and no padding, and from the build dir as idf.py merge-bin', () => {
    const expected = esptoolMerge(lab.path('e2.bin'), ['-t', '0x8000', '0x8000', TABLE, '0x10000', APP]);
    mergeBin({ inputs: [`${TABLE}@0x8000`, `${APP}@0x10000`], out: lab.path('k2.bin'), targetOffset: 0x8000 });
    expect(readFileSync(lab.path('k2.bin')).equals(expected)).toBe(true);
    const fromArgs = esptoolMerge(lab.path('e3.bin'), [
      '--flash-mode',
      'dio',
      '--flash-size',
      '2MB',
      '--flash-freq',
      '40m',
      '0x1000',
      BOOT,
      '0x8000',
      TABLE,
      '0x10000',
      APP,
    ]);
    mergeBin({ inputs: [FIXTURE_BUILD], out: lab.path('k3.bin') });
    expect(readFileSync(lab.path('k3.bin')).equals(fromArgs)).toBe(true);
  });

  it('refuses overlaps and parts before the target offset', () => {
    expect(() => mergeBin({ inputs: [`${APP}@0x10000`], out: lab.path('x.bin'), targetOffset: 0x20000 })).toThrow(
      expect.objectContaining({ code: 'MERGE_BEFORE_TARGET_OFFSET', exitCode: 2 }),
    );
    expect(() => mergeBin({ inputs: [`${APP}@0x10000`, `${TABLE}@0x20000`], out: lab.path('x.bin') })).toThrow(
      expect.objectContaining({ code: 'REGIONS_OVERLAP' }),
    );
  });
});
