/** chip-info, erase (region, partition), read-flash and reset against virtual boards. */
import { afterEach, describe, expect, it } from 'vitest';
import { chipInfo } from '../../src/cmds/chip-info.ts';
import { erase } from '../../src/cmds/erase.ts';
import { flash } from '../../src/cmds/flash.ts';
import { readFlash } from '../../src/cmds/read-flash.ts';
import { reset } from '../../src/cmds/reset.ts';
import { FIXTURE_BUILD, Lab, waitFor } from '../helpers.ts';

let lab: Lab;
afterEach(async () => {
  await lab?.close();
});

describe('device commands', () => {
  it('chip-info reports chip, features, crystal, MAC and flash', async () => {
    lab = new Lab();
    const board = await lab.board({ chip: 'esp32s3', mac: '24:0a:c4:12:34:56' });
    const info = await chipInfo({ port: board.url });
    expect(info).toMatchObject({ chip: 'esp32s3', mac: '24:0a:c4:12:34:56', flashSize: 4 * 1024 * 1024 });
    expect(info.description).toContain('ESP32-S3');
    expect(info.crystalMhz).toBe(40);
    expect(info.flashId).toMatch(/^[0-9a-f]{6}$/);
  });

  it('erases a partition by label from the device table, and a region; read-flash sees 0xFF', async () => {
    lab = new Lab();
    const board = await lab.socketBoard({ chip: 'esp32' });
    await flash({ port: board.url, inputs: [FIXTURE_BUILD], after: 'no-reset' });
    const r = await erase({ port: board.url, partition: 'factory' });
    expect(r).toMatchObject({ address: 0x10000, size: 0x100000, partition: 'factory' });
    const app = await readFlash({ port: board.url, address: 0x10000, size: 0x1000, out: lab.path('app.bin') });
    expect(app.every((b) => b === 0xff)).toBe(true);
    await expect(erase({ port: board.url, partition: 'nope' })).rejects.toMatchObject({
      code: 'PARTITION_NOT_FOUND',
      hint: expect.stringContaining('nvs, phy_init, factory'),
    });
    await erase({ port: board.url, region: { address: 0x8000, size: 0x1000 } });
    const table = await readFlash({ port: board.url, address: 0x8000, size: 0x100 });
    expect(table.every((b) => b === 0xff)).toBe(true);
    expect(() => erase({ port: board.url, region: { address: 0x8001, size: 0x1000 } })).toThrow(/4 KiB/);
  }, 30_000);

  it('resets into the ROM loader and back to the app over rfc2217; socket:// cannot reset', async () => {
    lab = new Lab();
    const board = await lab.board({ chip: 'esp32', socket: true });
    await reset({ port: board.url, mode: 'bootloader' });
    await waitFor(() => board.board.state === 'download', 3000);
    await reset({ port: board.url });
    await waitFor(() => board.board.state === 'app', 3000);
    await expect(reset({ port: board.socketUrl ?? '' })).rejects.toMatchObject({ code: 'PORT_NO_LINES', exitCode: 3 });
  });
});
