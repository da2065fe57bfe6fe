/** Bad input and the classic failures: each a clear message, a stable code and a documented exit code. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '@kiln/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { describeError } from '../../../cli/src/report-error.ts';
import { flash } from '../../src/cmds/flash.ts';
import { loadFlashPlan } from '../../src/plan.ts';
import { Rfc2217Transport } from '../../src/transport/rfc2217.ts';
import type { SerialLines } from '../../src/transport/types.ts';
import { FIXTURE_BUILD, fakeImage, Lab } from '../helpers.ts';

let lab: Lab;
afterEach(async () => {
  await lab?.close();
});

async function failure(p: Promise<unknown>): Promise<{ code: string; exitCode: number; text: string }> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, 'expected a failure').toBeDefined();
  const { text, exitCode } = describeError(e);
  return { code: (e as { code: string }).code, exitCode, text };
}

describe('flash input', () => {
  it('reads flasher_args.json in both spellings', () => {
    lab = new Lab();
    const plan = loadFlashPlan([FIXTURE_BUILD]);
    expect(plan.regions.map((r) => [r.name, r.address])).toEqual([
      ['bootloader', 0x1000],
      ['partition-table', 0x8000],
      ['app', 0x10000],
    ]);
    expect(plan).toMatchObject({ chip: 'esp32', flashSettings: { mode: 'dio', size: '2MB', freq: '40m' } });
    const dir = lab.path('dash');
    mkdirSync(dir);
    writeFileSync(join(dir, 'app.bin'), fakeImage(0, 1024));
    writeFileSync(
      join(dir, 'flasher_args.json'),
      JSON.stringify({
        write_flash_args: ['--flash-mode', 'qio', '--flash-size', '4MB', '--flash-freq', '80m'],
        flash_files: { '0x10000': 'app.bin' },
        app: { offset: '0x10000', file: 'app.bin', encrypted: 'false' },
        extra_esptool_args: { after: 'hard-reset', before: 'default-reset', stub: true, chip: 'esp32' },
      }),
    );
    expect(loadFlashPlan([dir])).toMatchObject({ flashSettings: { mode: 'qio', size: '4MB', freq: '80m' } });
  });

  it('refuses missing files, malformed flasher_args.json, bad pairs and overlaps with exit code 2', () => {
    lab = new Lab();
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return [(e as { code: string }).code, describeError(e).exitCode];
      }
      return undefined;
    };
    expect(code(() => loadFlashPlan([lab.path('nope.bin@0x1000')]))).toEqual(['FLASH_FILE_MISSING', ExitCode.USAGE]);
    const bad = lab.path('bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'flasher_args.json'), '{"flash_files": {');
    expect(code(() => loadFlashPlan([bad]))).toEqual(['FLASHER_ARGS_INVALID', ExitCode.USAGE]);
    expect(code(() => loadFlashPlan([lab.dir]))).toEqual(['FLASHER_ARGS_MISSING', ExitCode.USAGE]);
    const a = lab.path('a.bin');
    writeFileSync(a, Buffer.alloc(0x2000));
    expect(code(() => loadFlashPlan([`${a}@0x1000`, `${a}@0x2000`]))).toEqual(['REGIONS_OVERLAP', ExitCode.USAGE]);
    expect(code(() => loadFlashPlan([`${a}@zz`, `${a}@0x9000`]))).toEqual(['FLASH_OFFSET_INVALID', ExitCode.USAGE]);
  });
});

describe('flash safety against a virtual board', () => {
  it('refuses a build for another chip, naming both', async () => {
    lab = new Lab();
    const board = await lab.board({ chip: 'esp32c3' });
    const f = await failure(flash({ port: board.url, inputs: [FIXTURE_BUILD] }));
    expect(f).toMatchObject({ code: 'CHIP_MISMATCH', exitCode: ExitCode.USAGE });
    expect(f.text).toContain('this build is for esp32, but the device is an esp32c3');
    const image = lab.path('s3.bin');
    writeFileSync(image, fakeImage(9, 4096));
    const g = await failure(flash({ port: board.url, inputs: [`${image}@0x10000`] }));
    expect(g).toMatchObject({ code: 'IMAGE_WRONG_CHIP', exitCode: ExitCode.USAGE });
  });

  it('refuses a bootloader at the wrong offset (unless --force) and data beyond the flash size', async () => {
    lab = new Lab();
    const board = await lab.board({ chip: 'esp32', flashSize: 2 * 1024 * 1024 });
    const bl = join(FIXTURE_BUILD, 'bootloader/bootloader.bin');
    const f = await failure(flash({ port: board.url, inputs: [`${bl}@0x0`] }));
    expect(f).toMatchObject({ code: 'BOOTLOADER_WRONG_OFFSET', exitCode: ExitCode.USAGE });
    expect(f.text).toContain('the bootloader goes at 0x1000 on an esp32');
    const big = lab.path('big.bin');
    writeFileSync(big, Buffer.alloc(0x20000, 0x11));
    const g = await failure(flash({ port: board.url, inputs: [`${big}@0x1f0000`] }));
    expect(g).toMatchObject({ code: 'FLASH_TOO_SMALL', exitCode: ExitCode.USAGE });
    expect(g.text).toContain('beyond the 2 MB flash');
  });

  it('reports an unreachable port with exit code 3', async () => {
    lab = new Lab();
    const f = await failure(flash({ port: 'rfc2217://127.0.0.1:1', inputs: [FIXTURE_BUILD] }));
    expect(f).toMatchObject({ code: 'PORT_UNREACHABLE', exitCode: ExitCode.PORT });
  });

  it('reports a board held in reset (EN kept low) as silent, with exit code 4', async () => {
    lab = new Lab();
    const board = await lab.board({ chip: 'esp32' });
    // An adapter stuck with RTS alone asserted, whatever it is told: EN stays low.
    const stuck = new (class extends Rfc2217Transport {
      override setLines(_lines: Partial<SerialLines>) {
        return super.setLines({ dtr: false, rts: true });
      }
    })(board.url);
    const f = await failure(flash({ port: stuck, inputs: [FIXTURE_BUILD], attempts: 2 }));
    expect(f).toMatchObject({ code: 'DEVICE_SILENT', exitCode: ExitCode.DEVICE });
    expect(f.text).toContain('held in reset');
  });

  it('reports a board that boots its app instead of the loader as "no sync" (socket:// without BOOT held)', async () => {
    lab = new Lab();
    const board = await lab.board({ chip: 'esp32', rfc2217: false, socket: true, powerOnInDownloadMode: false });
    const f = await failure(flash({ port: board.url, inputs: [FIXTURE_BUILD], attempts: 1 }));
    expect(f.exitCode).toBe(ExitCode.DEVICE);
    expect(['DEVICE_SILENT', 'DEVICE_NO_SYNC']).toContain(f.code);
  });
});
