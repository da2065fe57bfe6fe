/**
 * Acceptance (issue 4): `kiln flash` writes the real ESP-IDF hello_world build onto a
 * virtual ESP32 over rfc2217://, and Espressif's esptool verify-flash confirms every
 * region; then every transport against every chip through the scripting API.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { flash } from '../src/cmds/flash.ts';
import { readFlash } from '../src/cmds/read-flash.ts';
import { ESPTOOL, FIXTURE_BUILD, fakeImage, KILN, killChildren, Lab, run, waitFor } from './helpers.ts';

afterAll(killChildren);

let lab: Lab;
afterEach(async () => {
  await lab?.close();
});

describe('kiln flash + esptool verify-flash', () => {
  it('writes the hello_world build over rfc2217://, esptool confirms every region, and a rerun skips them', async () => {
    lab = new Lab();
    const board = await lab.board({ chip: 'esp32' });
    const first = await run(process.execPath, [KILN, 'flash', FIXTURE_BUILD, '--port', board.url]);
    expect(first.stderr).toContain('Verified app at 0x10000');
    expect(first.code).toBe(0);
    const verify = await run(
      ESPTOOL,
      [
        '--chip',
        'esp32',
        '--port',
        board.url,
        '--before',
        'default-reset',
        'verify-flash',
        '0x1000',
        join(FIXTURE_BUILD, 'bootloader/bootloader.bin'),
        '0x8000',
        join(FIXTURE_BUILD, 'partition_table/partition-table.bin'),
        '0x10000',
        join(FIXTURE_BUILD, 'hello_world.bin'),
      ],
      90_000,
    );
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(
      verify.stdout.match(/[Vv]erif(y|ication) (OK|successful)|-- verify OK|Verification successful/g)?.length ?? 0,
    ).toBeGreaterThanOrEqual(3);
    const again = await run(process.execPath, [KILN, 'flash', FIXTURE_BUILD, '--port', board.url, '--json']);
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout.trim().split('\n').at(-1) ?? '{}');
    expect(result.regions.map((r: { skipped: boolean }) => r.skipped)).toEqual([true, true, true]);
  }, 120_000);
});

const CHIPS = [
  { chip: 'esp32', id: 0, bootloader: 0x1000 },
  { chip: 'esp32s3', id: 9, bootloader: 0x0 },
  { chip: 'esp32c3', id: 5, bootloader: 0x0 },
] as const;

describe('every transport, every chip', () => {
  for (const { chip, id } of CHIPS) {
    for (const kind of ['rfc2217', 'socket', 'serial'] as const) {
      it(`${chip} over ${kind}`, async () => {
        lab = new Lab();
        const board = kind === 'rfc2217' ? await lab.board({ chip }) : await lab.socketBoard({ chip });
        let port = board.url;
        if (kind === 'serial') {
          // A local serial device: one end of a pty pair that socat bridges to the board's socket.
          port = lab.path('ttyBOARD');
          const socat = spawn('socat', [`pty,raw,echo=0,link=${port}`, `tcp:${board.url.replace('socket://', '')}`], {
            stdio: 'ignore',
          });
          lab.onClose(() => {
            socat.kill('SIGKILL');
          });
          await waitFor(() => existsSync(port), 5000);
        }
        const image = fakeImage(id, 48 * 1024, id + 1);
        const file = lab.path('app.bin');
        writeFileSync(file, image);
        const before = kind === 'serial' ? 'no-reset' : 'default-reset'; // a pty has no modem lines
        const result = await flash({ port, inputs: [`${file}@0x10000`], chip, before, after: 'no-reset' });
        expect(result.chip).toBe(chip);
        expect(result.regions).toMatchObject([{ address: 0x10000, size: image.length, skipped: false }]);
        const back = await readFlash({ port, before, address: 0x10000, size: image.length });
        expect(Buffer.from(back).equals(image)).toBe(true);
      }, 30_000);
    }
  }
});
