/**
 * Acceptance: Espressif's esptool v5 (the real one, from .venv) drives virtual boards
 * over rfc2217://127.0.0.1:PORT exactly as it drives a DevKit: detection of the three
 * chips, write-flash compressed or not, with the stub or without, verify-flash,
 * read-flash (stub and ROM), erase-region, erase-flash, the hard reset that ends each
 * run; and socket:// for a board waiting in download mode. Every esptool run has a timeout and is killed if still alive after its test.
 *
 * esptool over RFC 2217 is slow by nature (pyserial re-negotiates the port, 50 ms a
 * poll, whenever esptool changes its read timeout: ~0.2 s per command), so each test
 * runs its esptool processes in parallel, on a board each.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { formatMac } from '../src/chips/index.ts';
import { type RunningBoard, type StartBoardOptions, startBoard } from '../src/index.ts';
import { testImage } from './helpers.ts';

const ESPTOOL = fileURLToPath(new URL('../../.venv/bin/esptool', import.meta.url));
const RUN_TIMEOUT_MS = 90_000;
const TEST_TIMEOUT_MS = 120_000;

const dir = mkdtempSync(join(tmpdir(), 'kiln-esptool-'));
const children = new Set<ChildProcess>();
const boards = new Set<RunningBoard>();

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all([...boards].map((b) => b.close()));
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
async function board(options: Partial<StartBoardOptions> & { chip: string }): Promise<RunningBoard> {
  const b = await startBoard({ flash: join(dir, `board-${++files}.bin`), ...options });
  boards.add(b);
  return b;
}

interface Run {
  code: number | null;
  out: string;
}

/** Runs esptool against a board's URL; never outlives its timeout. */
function esptool(url: string, ...args: string[]): Promise<Run> {
  if (!existsSync(ESPTOOL)) {
    throw new Error(`esptool is not installed at ${ESPTOOL}: run 'bash scripts/setup.sh' in the repository`);
  }
  return new Promise((resolve) => {
    const child = spawn(ESPTOOL, ['--port', url, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', TERM: 'dumb', COLUMNS: '200' },
    });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, out });
    });
  });
}

function ok(run: Run): string {
  if (run.code !== 0) throw new Error(`esptool failed (exit ${run.code}):\n${run.out}`);
  return run.out;
}

const CHIPS = [
  { chip: 'esp32', name: 'ESP32', mac: '24:0a:c4:00:11:22' },
  { chip: 'esp32s3', name: 'ESP32-S3', mac: '7c:df:a1:00:11:22' },
  { chip: 'esp32c3', name: 'ESP32-C3', mac: '34:85:18:00:11:22' },
];

describe.concurrent('esptool v5 against the virtual board', () => {
  it(
    'detects ESP32, ESP32-S3 and ESP32-C3 with chip-id, read-mac and flash-id',
    async () => {
      const runs = CHIPS.flatMap(({ chip, mac }) =>
        ['chip-id', 'read-mac', 'flash-id'].map(async (command) => {
          const b = await board({ chip, mac });
          return { chip, command, b, out: ok(await esptool(b.url, command)) };
        }),
      );
      for (const { chip, command, b, out } of await Promise.all(runs)) {
        const spec = CHIPS.find((c) => c.chip === chip);
        const c = b.board.chip;
        expect(out).toContain(`Detecting chip type... ${spec?.name}`);
        expect(out).toMatch(new RegExp(`Chip type:\\s+${escapeRegExp(c.description)}`));
        expect(out).toMatch(new RegExp(`Features:\\s+${escapeRegExp(c.features.join(', '))}`));
        expect(out).toMatch(/Crystal frequency:\s+40MHz/);
        expect(out).toMatch(new RegExp(`MAC:\\s+${spec?.mac}`));
        expect(out).toContain('Stub flasher running.');
        if (command === 'flash-id') {
          expect(out).toMatch(new RegExp(`Manufacturer: ${c.flashVendor.manufacturer.toString(16)}`));
          expect(out).toContain('Device: 4016');
          expect(out).toContain('Detected flash size: 4MB');
        }
        if (command === 'chip-id') expect(out).toContain(`${spec?.name} has no chip ID. Reading MAC address instead.`);
        expect(formatMac(c.mac)).toBe(spec?.mac);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'writes flash compressed and not, through the stub and through the ROM alone',
    async () => {
      const variants = [
        { chip: 'esp32', args: [], size: 48_000, compressed: true },
        { chip: 'esp32s3', args: ['--no-compress'], size: 48_000, compressed: false },
        { chip: 'esp32', args: ['--compress'], stub: false, size: 8_000, compressed: true },
        { chip: 'esp32c3', args: ['--no-compress'], stub: false, size: 8_000, compressed: false },
      ];
      const results = await Promise.all(
        variants.map(async (v, i) => {
          const b = await board({ chip: v.chip });
          const image = testImage(v.size, i + 1);
          const file = join(dir, `image-${i}.bin`);
          writeFileSync(file, image);
          const before = v.stub === false ? ['--no-stub'] : [];
          const out = ok(await esptool(b.url, ...before, 'write-flash', ...v.args, '0x10000', file));
          return { v, b, image, out };
        }),
      );
      for (const { v, b, image, out } of results) {
        expect(out).toContain('Hard resetting via RTS pin...');
        await until(() => b.board.state === 'app'); // esptool's hard reset restarted it from flash
        expect(out).toContain('Hash of data verified.');
        expect(out.includes('Stub flasher running.')).toBe(v.stub !== false);
        expect(/Wrote \d+ bytes \(\d+ compressed\)/.test(out)).toBe(v.compressed);
        expect(b.board.flash.read(0x10000, image.length).equals(image)).toBe(true);
        expect(b.board.flash.read(0x10000 + image.length, 16).every((x) => x === 0xff)).toBe(true);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'verifies flash, tells a mismatch, and reads flash back',
    async () => {
      const image = testImage(16_384, 9);
      const file = join(dir, 'verify.bin');
      writeFileSync(file, image);
      const prepared = await Promise.all(
        ['esp32', 'esp32s3', 'esp32c3', 'esp32'].map(async (chip) => {
          const b = await board({ chip });
          b.board.flash.program(0x20000, image);
          return b;
        }),
      );
      const [good, bad, read, rom] = prepared as [RunningBoard, RunningBoard, RunningBoard, RunningBoard];
      bad.board.flash.program(0x20000 + 100, Buffer.from([0x00]));
      const back = join(dir, 'read-back.bin');
      const slow = join(dir, 'read-slow.bin');
      const [verified, mismatch, readOut, romOut] = await Promise.all([
        esptool(good.url, 'verify-flash', '0x20000', file),
        esptool(bad.url, 'verify-flash', '0x20000', file),
        esptool(read.url, 'read-flash', '0x20000', String(image.length), back),
        esptool(rom.url, '--no-stub', 'read-flash', '0x20000', '256', slow), // READ_FLASH_SLOW, 64 bytes a command
      ]);
      expect(ok(verified)).toContain('Verification successful (digest matched).');
      expect(mismatch.code).not.toBe(0);
      expect(mismatch.out).toMatch(/Verification failed|digest mismatch/i);
      expect(ok(readOut)).toMatch(/Read 16384 bytes from 0x00020000/);
      expect(readFileSync(back).equals(image)).toBe(true);
      expect(ok(romOut)).not.toContain('Stub flasher running.');
      expect(readFileSync(slow).equals(image.subarray(0, 256))).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'erases a region and the whole chip',
    async () => {
      const [region, whole] = await Promise.all([board({ chip: 'esp32s3' }), board({ chip: 'esp32' })]);
      for (const b of [region, whole]) b.board.flash.program(0, Buffer.alloc(0x10000, 0x00));
      const [r1, r2] = await Promise.all([
        esptool(region.url, 'erase-region', '0x2000', '0x3000'),
        esptool(whole.url, 'erase-flash'),
      ]);
      expect(ok(r1)).toContain('Flash memory region erased successfully');
      expect(ok(r2)).toContain('Flash memory erased successfully');
      const f = region.board.flash;
      expect([f.read(0x1fff, 1)[0], f.read(0x2000, 1)[0], f.read(0x4fff, 1)[0], f.read(0x5000, 1)[0]]).toEqual([
        0, 0xff, 0xff, 0,
      ]);
      expect(whole.board.flash.read(0, 0x10000).every((x) => x === 0xff)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'boots the real ESP-IDF hello_world build written by esptool: verified app description, foreign app',
    async () => {
      const fixture = fileURLToPath(
        new URL('../../../shared/fixtures/esp-idf-builds/hello_world_esp32/', import.meta.url),
      );
      const b = await board({ chip: 'esp32' });
      const out = ok(
        await esptool(
          b.url,
          'write-flash',
          '0x1000',
          join(fixture, 'bootloader/bootloader.bin'),
          '0x8000',
          join(fixture, 'partition_table/partition-table.bin'),
          '0x10000',
          join(fixture, 'hello_world.bin'),
        ),
      );
      expect(out).toContain('Hard resetting via RTS pin...');
      await until(() => b.board.app?.kind === 'foreign');
      const app = b.board.app;
      expect(app?.kind === 'foreign' && app.description).toMatchObject({
        projectName: 'hello_world',
        version: 'qa-test-v5.0.2-20230428-283-g96',
        idfVersion: 'v5.0.1-751-g96c4ec8df2',
      });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'serves socket:// to a board waiting in download mode (no reset possible)',
    async () => {
      const b = await board({ chip: 'esp32c3', rfc2217: false, socket: true, powerOnInDownloadMode: true });
      expect(b.url).toMatch(/^socket:\/\//);
      const out = ok(await esptool(b.url, 'read-mac'));
      expect(out).toContain("It's not possible to reset the chip over a TCP socket.");
      expect(out).toMatch(new RegExp(`MAC:\\s+${formatMac(b.board.chip.mac)}`));
    },
    TEST_TIMEOUT_MS,
  );
});

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
