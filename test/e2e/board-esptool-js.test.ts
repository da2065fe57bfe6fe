/**
 * Acceptance (issue 3, the esptool-js half): esptool-js 0.7.0, through Kiln's Node
 * transports (@kiln/flasher: `connect()` → FlasherSession, its reset strategies and
 * its MD5 workaround), drives virtual boards over rfc2217://127.0.0.1:PORT as it
 * would drive DevKits: detection of ESP32, ESP32-S3 and ESP32-C3 with the configured
 * MAC, the flash id, write-flash compressed and not with MD5 verify and byte-exact
 * flash contents, read-flash, erase-region, erase-flash, a hard reset that boots the
 * real ESP-IDF hello_world build (its app description on the serial log), and fault
 * injection with fixed seeds: a verified flash or a loud failure, never a silently
 * wrong flash. The esptool v5 half is hardware/test/esptool.test.ts and faults.test.ts.
 *
 * What esptool-js 0.7.0 cannot do, and how this file covers the case instead:
 * - No --no-stub: `main()` (and so Kiln's `connect()`) always uploads and starts the
 *   stub. The ROM path is covered by re-syncing the same loader with the ROM after a
 *   classic reset (`loader.connect(..., detecting=false)` with `IS_STUB = false`), then
 *   doing what esptool-js can do without its stub: read the MAC and the flash id, and
 *   write-flash compressed and not (FLASH_BEGIN/DATA and FLASH_DEFL_BEGIN/DATA; in ROM
 *   mode esptool-js sends no FLASH_END), verified with Kiln's `session.md5`.
 * - ROM-mode MD5: esptool-js hex-encodes the ROM's 32 ASCII hex digits again, so its own
 *   writeFlash MD5 check always fails without the stub (flashing.md §0.3). Shown below:
 *   it fails loudly; Kiln's loader/md5.ts decodes it.
 * - READ_FLASH is a stub command; esptool-js has no READ_FLASH_SLOW, so readFlash in
 *   ROM mode fails (loudly, shown below).
 * - No erase-region: sent as the stub's ERASE_REGION (0xD1) through the loader's
 *   `checkCommand()`.
 * - No verify-flash command: verification is `flashMd5sum` (Kiln's `session.md5`)
 *   against the MD5 of the file.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type FlasherSession } from '@kiln/flasher';
import { formatMac, type RunningBoard, type StartBoardOptions, startBoard } from '@kiln/hardware';
import { afterAll, describe, expect, it } from 'vitest';

type Loader = FlasherSession['loader'];

const FIXTURE = fileURLToPath(new URL('../../../shared/fixtures/esp-idf-builds/hello_world_esp32/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kiln-esptool-js-'));
const boards = new Set<RunningBoard>();
const sessions = new Set<FlasherSession>();

afterAll(async () => {
  await Promise.all([...sessions].map((s) => s.close().catch(() => {})));
  await Promise.all([...boards].map((b) => b.close()));
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
async function board(options: Partial<StartBoardOptions> & { chip: string }): Promise<RunningBoard> {
  const b = await startBoard({ flash: join(dir, `board-${++files}.bin`), ...options });
  boards.add(b);
  return b;
}

/** A Kiln session (esptool-js with its stub running) on the board; closed after the file at the latest. */
async function session(b: RunningBoard, chip?: string): Promise<FlasherSession> {
  const s = await connect({ port: b.url, ...(chip ? { chip } : {}), attempts: 3 });
  sessions.add(s);
  return s;
}

async function closeSession(s: FlasherSession): Promise<void> {
  sessions.delete(s);
  await s.close();
}

/** Deterministic, poorly compressible bytes with compressible stretches; a multiple of 4 long. */
function image(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed >>> 0;
  for (let i = 0; i < bytes; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = i % 1024 < 700 ? x >>> 24 : i & 0x3f;
  }
  return out;
}

const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');

/** esptool-js's writeFlash of one region with its own MD5 check (calculateMD5Hash) when asked. */
function writeFlash(loader: Loader, address: number, data: Uint8Array, compress: boolean, verify = true) {
  return loader.writeFlash({
    fileArray: [{ data: new Uint8Array(data), address }],
    flashMode: 'keep',
    flashFreq: 'keep',
    flashSize: 'keep',
    eraseAll: false,
    compress,
    ...(verify ? { calculateMD5Hash: (d: Uint8Array) => md5(d) } : {}),
  });
}

/** The stub's ERASE_REGION (esptool erase-region): esptool-js has no API for it. */
async function eraseRegion(loader: Loader, address: number, size: number): Promise<void> {
  const pkt = new Uint8Array(8);
  const view = new DataView(pkt.buffer);
  view.setUint32(0, address, true);
  view.setUint32(4, size, true);
  await loader.checkCommand('erase region', loader.ESP_ERASE_REGION, pkt, undefined, undefined, 10_000);
}

/** Rejects after ms: no esptool-js call may hang the suite. */
function bounded<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still running after ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const CHIPS = [
  { chip: 'esp32', name: 'ESP32', mac: '24:0a:c4:00:11:22' },
  { chip: 'esp32s3', name: 'ESP32-S3', mac: '7c:df:a1:00:11:22' },
  { chip: 'esp32c3', name: 'ESP32-C3', mac: '34:85:18:00:11:22' },
] as const;

describe.concurrent('esptool-js (through Kiln transports) against the virtual board', () => {
  for (const spec of CHIPS) {
    it(`${spec.name}: detect, MAC, flash id, write compressed and not, read, erase region, erase flash (stub)`, async () => {
      const b = await board({ chip: spec.chip, mac: spec.mac });
      const s = await session(b); // auto-detects; no chip given
      const { loader } = s;
      try {
        expect(loader.chip.CHIP_NAME).toBe(spec.name);
        expect(s.target.name).toBe(spec.chip);
        expect(s.description).toBe(await loader.chip.getChipDescription(loader));
        expect(loader.IS_STUB).toBe(true);
        expect(await loader.chip.readMac(loader)).toBe(spec.mac);
        expect(formatMac(b.board.chip.mac)).toBe(spec.mac);

        const id = await loader.readFlashId();
        expect(id & 0xff).toBe(b.board.chip.flashVendor.manufacturer);
        expect((id >> 8) & 0xffff).toBe(0x1640); // device 0x4016, as RDID sends it
        expect(await loader.detectFlashSize()).toBe('4MB');

        const compressed = image(48_000, 1);
        const plain = image(20_000, 2);
        await writeFlash(loader, 0x10000, compressed, true);
        await writeFlash(loader, 0x30000, plain, false);
        const flash = b.board.flash;
        expect(flash.read(0x10000, compressed.length).equals(compressed)).toBe(true);
        expect(flash.read(0x10000 + compressed.length, 16).every((x) => x === 0xff)).toBe(true);
        expect(flash.read(0x30000, plain.length).equals(plain)).toBe(true);
        expect(await s.md5(0x10000, compressed.length)).toBe(md5(compressed));
        expect(await s.md5(0x30000, plain.length)).toBe(md5(plain));

        const back = await loader.readFlash(0x10000, compressed.length);
        expect(Buffer.from(back).equals(compressed)).toBe(true);

        await eraseRegion(loader, 0x11000, 0x2000);
        expect(flash.read(0x10fff, 1)[0]).toBe(compressed[0xfff]);
        expect(flash.read(0x11000, 0x2000).every((x) => x === 0xff)).toBe(true);
        expect(flash.read(0x13000, 1)[0]).toBe(compressed[0x3000]);

        await loader.eraseFlash();
        expect(flash.read(0, flash.size).every((x) => x === 0xff)).toBe(true);
      } finally {
        await closeSession(s);
      }
    });
  }

  it('ESP32 and ESP32-C3 without the stub: MAC, flash id, write-flash compressed and not (ROM loader)', async () => {
    await Promise.all(
      (['esp32', 'esp32c3'] as const).map(async (chip, n) => {
        const spec = CHIPS.find((c) => c.chip === chip);
        const b = await board({ chip, mac: spec?.mac });
        const s = await session(b, chip);
        const { loader } = s;
        try {
          // Back to the ROM on the same loader: esptool-js has no --no-stub.
          await loader.transport.disconnect();
          loader.IS_STUB = false;
          await loader.connect('default_reset', 3, false);
          expect(b.board.state).toBe('download');
          expect(await loader.chip.readMac(loader)).toBe(spec?.mac);
          expect((await loader.readFlashId()) & 0xff).toBe(b.board.chip.flashVendor.manufacturer);

          const compressed = image(8_000, 10 + n);
          const plain = image(6_000, 20 + n);
          await writeFlash(loader, 0x10000, compressed, true, false);
          await writeFlash(loader, 0x20000, plain, false, false);
          expect(b.board.flash.read(0x10000, compressed.length).equals(compressed)).toBe(true);
          expect(b.board.flash.read(0x20000, plain.length).equals(plain)).toBe(true);
          expect(await s.md5(0x10000, compressed.length)).toBe(md5(compressed)); // Kiln's ROM-mode decode
          expect(await s.md5(0x20000, plain.length)).toBe(md5(plain));
          expect(await loader.flashMd5sum(0x20000, plain.length)).toHaveLength(64); // esptool-js: hex of the hex

          // esptool-js's own check in ROM mode: the data is right, the check fails, loudly.
          await expect(writeFlash(loader, 0x20000, plain, false, true)).rejects.toThrow(/MD5 of file does not match/);
          // READ_FLASH is the stub's; the ROM refuses it and esptool-js says so.
          await expect(loader.readFlash(0x10000, 256)).rejects.toThrow();
          expect(b.board.state).toBe('download');
        } finally {
          await closeSession(s);
        }
      }),
    );
  });

  it('boots the hello_world build written by esptool-js after a hard reset: the log shows the app description', async () => {
    const b = await board({ chip: 'esp32' });
    const s = await session(b, 'esp32');
    try {
      const regions: [number, Buffer][] = [
        [0x1000, readFileSync(join(FIXTURE, 'bootloader/bootloader.bin'))],
        [0x8000, readFileSync(join(FIXTURE, 'partition_table/partition-table.bin'))],
        [0x10000, readFileSync(join(FIXTURE, 'hello_world.bin'))],
      ];
      for (const [address, data] of regions) {
        await writeFlash(s.loader, address, data, true);
        expect(b.board.flash.read(address, data.length).equals(data)).toBe(true);
      }
      // The boot log comes at the ROM's 115200 baud; the stub had moved the link to 460800.
      await s.transport.setBaudRate(115200);
      let log = '';
      const stop = s.transport.onData((d) => {
        log += Buffer.from(d).toString('latin1');
      });
      try {
        expect(await s.reset('hard-reset')).toBe(true);
        await until(() => log.includes('ESP-IDF:') && b.board.app !== undefined, 5000);
      } finally {
        stop();
      }
      expect(log).toContain('rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)');
      expect(log).toMatch(/boot: Loaded app from partition at offset 0x10000/);
      expect(log).toMatch(/Project name: {5}hello_world\r\n/);
      expect(log).toMatch(/App version: {6}qa-test-v5\.0\.2-20230428-283-g96\r\n/);
      expect(log).toMatch(/ESP-IDF: {10}v5\.0\.1-751-g96c4ec8df2\r\n/);
      const app = b.board.app;
      expect(app?.kind).toBe('foreign');
      expect(app?.kind === 'foreign' && app.description?.projectName).toBe('hello_world');
    } finally {
      await closeSession(s);
    }
  });

  it('through injected faults (fixed seeds, bit errors and drops both ways): a verified flash or a loud failure', async () => {
    const data = image(24_000, 7);
    const seeds = [1, 2, 3, 4, 5, 6];
    const runs = await Promise.all(
      seeds.map(async (seed) => {
        const b = await board({
          chip: 'esp32',
          faults: { seed, bitErrorRate: 1e-4, dropRate: 5e-5, direction: 'both' },
        });
        const faults = b.board.faults;
        if (!faults) throw new Error('the board has no fault injection');
        // A clean link to connect (esptool-js has no retries there); faults on for the write and its verify.
        faults.enabled = false;
        const s = await session(b, 'esp32');
        faults.enabled = true;
        let error: unknown;
        try {
          await bounded(`seed ${seed}`, writeFlash(s.loader, 0x10000, data, seed % 2 === 1), 20_000);
          const verified = await bounded(`seed ${seed} md5`, s.md5(0x10000, data.length), 5_000);
          if (verified !== md5(data)) throw new Error(`MD5 mismatch: ${verified}`);
        } catch (e) {
          error = e;
        } finally {
          faults.enabled = false;
          await closeSession(s).catch(() => {});
        }
        const exact = b.board.flash.read(0x10000, data.length).equals(data);
        return { seed, error, exact, counts: { ...faults.counts } };
      }),
    );
    console.log(
      runs
        .map(
          (r) =>
            `seed ${r.seed}: ${r.error ? `failed loudly (${String(r.error).split('\n')[0]})` : 'verified'}, flash ${r.exact ? 'exact' : 'differs'}, faults ${JSON.stringify(r.counts)}`,
        )
        .join('\n'),
    );
    for (const r of runs) {
      if (r.error === undefined) expect(r.exact, `seed ${r.seed} reported success with a wrong flash`).toBe(true);
      else expect(String(r.error)).toMatch(/\S/);
      expect(String(r.error ?? '')).not.toMatch(/still running after/);
    }
    expect(runs.reduce((n, r) => n + r.counts.bitErrors + r.counts.droppedBytes, 0)).toBeGreaterThan(0);
  }, 40_000);
});
