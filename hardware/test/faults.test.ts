/**
 * Fault injection: deterministic link faults, the flash's power cut, and the
 * acceptance: esptool v5 writing through a faulty link (several fixed seeds) either
 * finishes with a verified flash whose bytes equal the file, or exits non-zero —
 * never a silently wrong flash. A power cut mid-write fails loudly and leaves exactly
 * the bytes programmed before it, in the flash file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FlashChip, PowerLossError } from '../src/flash/flash-chip.ts';
import { type RunningBoard, startBoard } from '../src/index.ts';
import { LinkFaults } from '../src/link/faults.ts';
import { testImage } from './helpers.ts';

const ESPTOOL = fileURLToPath(new URL('../../.venv/bin/esptool', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kiln-faults-'));
const children = new Set<ChildProcess>();
const boards = new Set<RunningBoard>();

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all([...boards].map((b) => b.close()));
  rmSync(dir, { recursive: true, force: true });
});

function esptool(
  url: string,
  args: string[],
  timeoutMs = 40_000,
): Promise<{ code: number | null; out: string; killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(ESPTOOL, ['--port', url, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    children.add(child);
    let out = '';
    let killed = false;
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, out, killed });
    });
  });
}

describe('link faults', () => {
  it('are reproducible per seed and respect the direction', () => {
    const data = Buffer.alloc(20_000, 0x55);
    const a = new LinkFaults({ seed: 7, bitErrorRate: 0.01, dropRate: 0.01 });
    const b = new LinkFaults({ seed: 7, bitErrorRate: 0.01, dropRate: 0.01 });
    const outA = a.apply(data, 'to-board');
    expect(outA.equals(b.apply(data, 'to-board'))).toBe(true);
    expect(a.counts.bitErrors).toBeGreaterThan(100);
    expect(a.counts.droppedBytes).toBeGreaterThan(100);
    expect(outA.length).toBe(data.length - a.counts.droppedBytes);
    const oneWay = new LinkFaults({ seed: 7, bitErrorRate: 0.5, direction: 'to-host' });
    expect(oneWay.apply(data, 'to-board').equals(data)).toBe(true);
    oneWay.enabled = false;
    expect(oneWay.apply(data, 'to-host').equals(data)).toBe(true);
  });

  it('cuts the power after byte N of programming, keeping exactly N bytes', () => {
    const flash = FlashChip.inMemory(1 << 20);
    let cut = 0;
    flash.armPowerCut(300, () => cut++);
    flash.program(0, Buffer.alloc(256, 0x00));
    expect(() => flash.program(256, Buffer.alloc(256, 0x11))).toThrow(PowerLossError);
    expect(cut).toBe(1);
    expect(flash.read(256, 44).every((x) => x === 0x11)).toBe(true);
    expect(flash.read(300, 212).every((x) => x === 0xff)).toBe(true);
    flash.program(300, Buffer.from([0])); // one-shot: power is back
  });
});

describe.concurrent('esptool v5 through injected faults', () => {
  it('never leaves a silently wrong flash (fixed seeds, bit errors and dropped bytes both ways)', async () => {
    const image = testImage(12_000, 3);
    const file = join(dir, 'image.bin');
    writeFileSync(file, image);
    const seeds = [1, 2, 3, 4, 5];
    const runs = await Promise.all(
      seeds.map(async (seed) => {
        const b = await startBoard({
          chip: 'esp32',
          flash: join(dir, `seed-${seed}.bin`),
          faults: { seed, bitErrorRate: 2e-4, dropRate: 1e-4, direction: 'both' },
        });
        boards.add(b);
        const run = await esptool(b.url, ['--connect-attempts', '2', 'write-flash', '0x10000', file]);
        return { seed, b, run };
      }),
    );
    let faults = 0;
    for (const { b, run } of runs) {
      faults += (b.board.faults?.counts.bitErrors ?? 0) + (b.board.faults?.counts.droppedBytes ?? 0);
      expect(run.killed, `esptool hung:\n${run.out}`).toBe(false);
      const written = b.board.flash.read(0x10000, image.length).equals(image);
      if (run.code === 0) {
        expect(run.out).toContain('Hash of data verified.');
        expect(written).toBe(true);
      } else {
        expect(run.out).toMatch(/error|fail|timed out|invalid/i);
      }
    }
    expect(faults).toBeGreaterThan(0); // the seeds do hit the transfer
    console.log(
      runs
        .map(({ seed, run, b }) => `seed ${seed}: exit ${run.code}, faults ${JSON.stringify(b.board.faults?.counts)}`)
        .join('\n'),
    );
  }, 60_000);

  it('fails loudly on a power cut mid-write; the flash file keeps exactly what was programmed', async () => {
    const image = testImage(16_384, 5);
    const file = join(dir, 'cut.bin');
    writeFileSync(file, image);
    const flashFile = join(dir, 'power-cut.bin');
    const b = await startBoard({ chip: 'esp32', flash: flashFile, faults: { powerCutAfterBytes: 5000 } });
    boards.add(b);
    const run = await esptool(b.url, ['write-flash', '0x10000', file]);
    expect(run.killed).toBe(false);
    expect(run.code).not.toBe(0);
    expect(b.board.faults?.counts.powerCuts).toBe(1); // (esptool's final hard reset powered it up again)
    const onDisk = readFileSync(flashFile);
    expect(onDisk.subarray(0x10000, 0x10000 + 5000).equals(image.subarray(0, 5000))).toBe(true);
    expect(onDisk.subarray(0x10000 + 5000, 0x10000 + 0x2000).every((x) => x === 0xff)).toBe(true);
  }, 60_000);
});
