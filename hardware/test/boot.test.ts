/**
 * Normal boot, in-process: the real ESP-IDF hello_world build boots to the foreign-app
 * state with its description printed; each broken flash gives the bootloader's error
 * and a reboot loop; blank flash keeps the ROM saying `invalid header`; a Kiln host
 * build runs as kiln-device on the serial link and is killed by a reset.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeOtaEntry, OtaState } from '@kiln/protocol/formats/otadata';
import { encodeNvs, parseNvs } from '@kiln/provisioning';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppState } from '../src/boot/firmware-boot.ts';
import { FlashChip } from '../src/flash/flash-chip.ts';
import { BenchHost } from './helpers.ts';

const FIXTURE = fileURLToPath(new URL('../../../shared/fixtures/esp-idf-builds/hello_world_esp32/', import.meta.url));
const HOST_BUILD = fileURLToPath(new URL('../../firmware/build-host/', import.meta.url));
const file = (name: string) => readFileSync(`${FIXTURE}${name}`);

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

/** A board with 4 MiB in-memory flash holding `files`, powered on (it boots from flash). */
function boardWith(files: [number, Buffer][], options: ConstructorParameters<typeof BenchHost>[0] = {}): BenchHost {
  const h = new BenchHost({
    flash: FlashChip.inMemory(),
    strapWindowMs: 1,
    firmware: { rebootDelayMs: 50, romRetryMs: 20 },
    ...options,
  });
  cleanup.push(() => h.close());
  for (const [at, data] of files) h.board.flash.program(at, data);
  return h;
}

function helloWorld(): [number, Buffer][] {
  return [
    [0x1000, file('bootloader/bootloader.bin')],
    [0x8000, file('partition_table/partition-table.bin')],
    [0x10000, file('hello_world.bin')],
  ];
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function bootLog(h: BenchHost, done: (text: string) => boolean): Promise<string> {
  let text = '';
  await until(() => {
    text += h.take().toString('latin1');
    return done(text);
  });
  return text;
}

describe('normal boot', () => {
  it('boots the real hello_world build: ROM load lines, bootloader, verified app description, foreign app', async () => {
    const h = boardWith(helloWorld());
    await until(() => h.board.app !== undefined);
    const log = await bootLog(h, (t) => t.includes('ESP-IDF:'));
    expect(log).toContain('rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n');
    expect(log).toContain('configsip: 0, SPIWP:0xee\r\n');
    expect(log).toContain('mode:DIO, clock div:2\r\n');
    expect(log).toContain('load:0x3fff0030,len:7000\r\n'); // 0x1b58, from the bootloader's first segment
    expect(log).toContain('entry 0x40080650\r\n');
    expect(log).toMatch(/I \(\d+\) boot: ESP-IDF v5\.0\.1-751-g96c4ec8df2 2nd stage bootloader/);
    expect(log).toMatch(/boot: {2}2 factory {10}factory app {6}00 00 00010000 00100000/);
    expect(log).toMatch(/esp_image: segment 0: paddr=00010020 vaddr=3f400020 size=088fch \( 35068\) map/);
    expect(log).toMatch(/boot: Loaded app from partition at offset 0x10000/);
    expect(log).toMatch(/Project name: {5}hello_world\r\n/);
    expect(log).toMatch(/App version: {6}qa-test-v5\.0\.2-20230428-283-g96\r\n/);
    expect(log).toMatch(/Compile time: {5}Jun {2}8 2023 12:51:54\r\n/);
    expect(log).toMatch(/ELF file SHA256: {2}07562ee9c\.\.\.\r\n/);
    expect(log).toMatch(/ESP-IDF: {10}v5\.0\.1-751-g96c4ec8df2\r\n/);
    const app = h.board.app as Extract<AppState, { kind: 'foreign' }>;
    expect(app.kind).toBe('foreign');
    expect(app.description?.projectName).toBe('hello_world');
  });

  it('refuses an app with one flipped byte (checksum), then reboots and fails again', async () => {
    const files = helloWorld();
    const app = Buffer.from(files[2]?.[1] ?? Buffer.alloc(0));
    app[0x5000] = (app[0x5000] ?? 0) ^ 0x01;
    files[2] = [0x10000, app];
    const h = boardWith(files);
    const log = await bootLog(h, (t) => (t.match(/No bootable app partitions/g) ?? []).length >= 2);
    expect(log).toMatch(/E \(\d+\) esp_image: Checksum failed\. Calculated 0x[0-9a-f]+ read 0x39\r\n/);
    expect(log).toMatch(/E \(\d+\) boot: Factory app partition is not bootable\r\n/);
    expect(log).toMatch(/E \(\d+\) boot: No bootable app partitions in the partition table\r\n/);
    expect(log).toContain('rst:0x3 (SW_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)'); // bootloader_reset
    expect(h.board.app?.kind).toBe('boot-failed');
  });

  it('refuses an image for another chip', async () => {
    const files = helloWorld();
    const app = Buffer.from(files[2]?.[1] ?? Buffer.alloc(0));
    app.writeUInt16LE(5, 12); // an ESP32-C3 image
    files[2] = [0x10000, app];
    const h = boardWith(files);
    const log = await bootLog(h, (t) => t.includes('No bootable app partitions'));
    expect(log).toMatch(/E \(\d+\) boot_comm: mismatch chip ID, expected 0, found 5\r\n/);
    expect(log).toMatch(/E \(\d+\) boot: Factory app partition is not bootable\r\n/);
  });

  it('says so when the partition table is missing', async () => {
    const h = boardWith(helloWorld().filter(([at]) => at !== 0x8000));
    const log = await bootLog(h, (t) => t.includes('load partition table error!'));
    expect(log).toMatch(/E \(\d+\) flash_parts: partition 0 invalid magic number 0xffff\r\n/);
    expect(log).toMatch(/E \(\d+\) boot: Failed to verify partition table\r\n/);
  });

  it('keeps the ROM repeating invalid header on blank flash', async () => {
    const h = boardWith([]);
    const log = await bootLog(h, (t) => (t.match(/invalid header: 0xffffffff\r\n/g) ?? []).length >= 3);
    expect(log).not.toContain('2nd stage bootloader');
    expect(h.board.app).toEqual({ kind: 'rom-halted', reason: 'invalid-header' });
  });

  it('follows otadata to the OTA slot and boots ota_1', async () => {
    const dir = `${HOST_BUILD}partition_table/partition-table.bin`;
    const hello = file('hello_world.bin');
    const otadata = Buffer.alloc(0x2000, 0xff);
    encodeOtaEntry(2, OtaState.VALID).copy(otadata, 0); // seq 2 → slot (2-1) % 2 = 1
    const h = boardWith([
      [0x1000, file('bootloader/bootloader.bin')],
      [0x8000, readFileSync(dir)],
      [0xd000, otadata],
      [0x200000, hello],
    ]);
    await until(() => h.board.app !== undefined);
    const log = h.take().toString('latin1');
    expect(log).toMatch(/Loaded app from partition at offset 0x200000/);
    expect(h.board.app?.kind).toBe('foreign');
  });

  // firmware/build-host is built by vitest.global-setup.ts before any test runs.
  it('runs a registered Kiln host build as the app, on the serial link, and kills it on reset', async () => {
    const build = (name: string) => readFileSync(join(HOST_BUILD, name));
    const h = boardWith(
      [
        [0x1000, build('bootloader/bootloader.bin')],
        [0x8000, build('partition_table/partition-table.bin')],
        [0xd000, build('ota_data_initial.bin')],
        [0x10000, build('kiln_firmware.bin')],
      ],
      { firmware: { appBuilds: [HOST_BUILD], rebootDelayMs: 50 } },
    );
    await until(() => h.board.app !== undefined);
    const app = h.board.app as Extract<AppState, { kind: 'host' }>;
    expect(app.kind).toBe('host');
    expect(app.description.projectName).toBe('kiln_firmware');
    const boot = h.take().toString('latin1');
    expect(boot).toContain('No factory image, trying OTA 0');
    expect(boot).toContain('Set actual ota_seq=1 in otadata[0]');
    const log = await bootLog(h, (t) => t.includes('kiln: state'));
    expect(log).toMatch(/kiln_firmware/);
    h.port.write(Buffer.from('version\r\n'));
    expect(await bootLog(h, (t) => t.includes('protocol=kiln.v1'))).toMatch(/kiln_firmware \S+ protocol=kiln\.v1/);
    const pid = app.pid ?? 0;
    h.port.setLines({ dtr: false, rts: true }); // EN low: the chip stops, the process dies
    await until(() => !alive(pid));
    h.port.setLines({ rts: false });
    await until(() => h.board.app?.kind === 'host');
    const again = h.board.app as Extract<AppState, { kind: 'host' }>;
    expect(again.pid).not.toBe(pid);
    await h.close();
    expect(alive(again.pid ?? 0)).toBe(false); // close() resolves once the app has exited
  }, 15_000);

  it('hands the NVS partition over to the Kiln host build and writes it back at reset', async () => {
    const build = (name: string) => readFileSync(join(HOST_BUILD, name));
    const nvs = { offset: 0x9000, size: 0x4000 }; // the host build's partition table: nvs at 0x9000, 16 KiB
    const wifi = encodeNvs(
      [
        { namespace: 'kiln', key: 'wifi_ssid', type: 'blob', value: Buffer.from('KilnLab') },
        { namespace: 'kiln', key: 'wifi_pass', type: 'blob', value: Buffer.from('secret') },
      ],
      nvs.size,
    );
    const h = boardWith(
      [
        [0x1000, build('bootloader/bootloader.bin')],
        [0x8000, build('partition_table/partition-table.bin')],
        [nvs.offset, wifi],
        [0xd000, build('ota_data_initial.bin')],
        [0x10000, build('kiln_firmware.bin')],
      ],
      { firmware: { appBuilds: [HOST_BUILD], rebootDelayMs: 50 } },
    );
    const log = await bootLog(h, (t) => t.includes('Wi-Fi could not connect'));
    expect(log).toMatch(/I \(\d+\) boot: {2}0 nvs {14}WiFi data {8}01 02 00009000 00004000/);
    expect(log).toContain('Wi-Fi could not connect to "KilnLab"'); // the credentials came from the partition
    h.port.write(Buffer.from('factory-reset\r\n'));
    await bootLog(h, (t) => t.includes('factory reset done'));
    h.port.setLines({ dtr: false, rts: true }); // EN low: the app stops, its NVS goes back to flash
    await until(() => h.board.state === 'reset');
    const partition = h.board.flash.read(nvs.offset, nvs.size);
    expect(parseNvs(partition)).toEqual([]);
    expect(partition.equals(encodeNvs([], nvs.size))).toBe(true); // as nvs_partition_gen writes an empty CSV
    h.port.setLines({ rts: false });
    const again = await bootLog(h, (t) => t.includes('state unprovisioned'));
    expect(again).not.toContain('KilnLab');
  }, 15_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
