import { inflateSync } from 'node:zlib';
import type { ESPLoader } from 'esptool-js';
import { describe, expect, it } from 'vitest';
import { writeDeflated } from '../../src/loader/write.ts';

/** Records what writeDeflated asks of esptool-js, with esptool-js's timeout rule (40 s/MB, at least 3 s). */
function fakeLoader(stub: boolean) {
  const calls: { op: string; data?: Uint8Array; seq?: number; timeout?: number; args?: number[] }[] = [];
  const loader = {
    FLASH_WRITE_SIZE: 0x4000,
    IS_STUB: stub,
    ERASE_WRITE_TIMEOUT_PER_MB: 40_000,
    timeoutPerMb: (perMb: number, size: number) => Math.max(3000, perMb * (size / 1e6)),
    flashDeflBegin: async (size: number, compsize: number, offset: number) => {
      calls.push({ op: 'begin', args: [size, compsize, offset] });
      return Math.ceil(compsize / 0x4000);
    },
    flashDeflBlock: async (data: Uint8Array, seq: number, timeout: number) => {
      calls.push({ op: 'block', data: Uint8Array.from(data), seq, timeout });
    },
    flashDeflFinish: async (_reboot: boolean, timeout: number) => {
      calls.push({ op: 'end', timeout });
    },
  };
  return { loader: loader as unknown as ESPLoader, calls };
}

/** Incompressible enough to need several blocks, with one long run that inflates to a lot. */
function image(): Buffer {
  const out = Buffer.alloc(0x30000);
  let x = 7;
  for (let i = 0; i < 0x20000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  out.fill(0xab, 0x20000); // 64 KiB that deflates to almost nothing
  return out;
}

describe('writeDeflated', () => {
  it('sends the zlib stream in FLASH_WRITE_SIZE blocks that inflate back to the image, and reports compressed progress', async () => {
    const { loader, calls } = fakeLoader(true);
    const data = image();
    const progress: [number, number][] = [];
    await writeDeflated(loader, data, 0x10000, (w, t) => progress.push([w, t]));
    const begin = calls[0];
    const blocks = calls.filter((c) => c.op === 'block');
    expect(begin?.op).toBe('begin');
    expect(begin?.args?.[0]).toBe(data.length);
    expect(begin?.args?.[2]).toBe(0x10000);
    expect(blocks.map((b) => b.seq)).toEqual(blocks.map((_, i) => i));
    const stream = Buffer.concat(blocks.map((b) => b.data ?? new Uint8Array()));
    expect(stream.length).toBe(begin?.args?.[1]);
    expect(inflateSync(stream).equals(data)).toBe(true);
    expect(calls.at(-1)?.op).toBe('end');
    expect(progress[0]).toEqual([0, stream.length]);
    expect(progress.at(-1)).toEqual([stream.length, stream.length]);
  });

  it('gives the stub block N the timeout of block N-1 (it acks before writing), the ROM its own, and sends no FLASH_DEFL_END to the ROM', async () => {
    // A stream whose first block inflates to > 75 KB (a timeout above 3 s at 40 s/MB).
    const data = Buffer.alloc(0xc0000, 0x11);
    image().copy(data, 0x80000, 0, 0x20000); // 512 KiB of one byte, then 128 KiB of noise
    const stub = fakeLoader(true);
    await writeDeflated(stub.loader, data, 0);
    const stubBlocks = stub.calls.filter((c) => c.op === 'block');
    expect(stubBlocks[0]?.timeout).toBe(5000);
    expect(stubBlocks[1]?.timeout).toBeGreaterThan(3000); // block 0 inflated to much more than 75 KB
    const rom = fakeLoader(false);
    await writeDeflated(rom.loader, data, 0);
    const romBlocks = rom.calls.filter((c) => c.op === 'block');
    expect(romBlocks[0]?.timeout).toBeGreaterThan(3000);
    expect(rom.calls.some((c) => c.op === 'end')).toBe(false);
  });
});
