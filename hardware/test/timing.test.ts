/**
 * The timing model: the pure numbers (wire time, datasheet flash times), the paced
 * line's order, and a 64 KiB ROM write at 115200 that cannot finish faster than its
 * bytes take on the wire. Lower bounds only: a slow machine can never fail them.
 */
import { describe, expect, it } from 'vitest';
import { FlashChip } from '../src/flash/flash-chip.ts';
import { flashBusyMs, PacedLine, wireTimeMs } from '../src/link/timing.ts';
import { BenchHost, dataRequest, frames, OP, parseResponse, request, u32 } from './helpers.ts';

describe('timing model', () => {
  it('computes 8N1 wire time and W25Q32JV typical flash times', () => {
    expect(wireTimeMs(11520, 115200)).toBe(1000);
    expect(flashBusyMs({ kind: 'program', offset: 0, length: 256 })).toBe(0.4);
    expect(flashBusyMs({ kind: 'program', offset: 255, length: 2 })).toBe(0.8); // two pages touched
    expect(flashBusyMs({ kind: 'erase-sector', offset: 0 })).toBe(45);
    expect(flashBusyMs({ kind: 'erase-block', offset: 0 })).toBe(150);
    expect(flashBusyMs({ kind: 'erase-chip', size: 4 << 20 })).toBe(10_000);
  });

  it('delivers paced bytes in order, no earlier than their wire time', async () => {
    const got: Buffer[] = [];
    const line = new PacedLine((d) => got.push(d));
    const start = performance.now();
    for (let i = 0; i < 10; i++) line.send(Buffer.alloc(100, i), 115200);
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (got.length === 10) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
    expect(performance.now() - start).toBeGreaterThanOrEqual(wireTimeMs(1000, 115200) - 1);
    expect(got.map((b) => b[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('takes at least the wire time to write 64 KiB at 115200 through the ROM', async () => {
    const h = new BenchHost({ flash: FlashChip.inMemory(), timing: true });
    try {
      h.enterDownload();
      const block = 0x4000;
      const image = Buffer.alloc(0x10000, 0x5a);
      const sent: Buffer[] = [request(OP.FLASH_BEGIN, u32(image.length, 4, block, 0x10000))];
      for (let i = 0; i < 4; i++) sent.push(dataRequest(OP.FLASH_DATA, i, image.subarray(i * block, (i + 1) * block)));
      const start = performance.now();
      h.take();
      let answered = 0;
      for (const r of sent) {
        h.port.write(r);
        // wait for this command's response, as esptool does
        await waitFor(() => {
          const got = frames(Buffer.concat(h.output)).map((f) => parseResponse(f, 4));
          return got.length > answered;
        });
        answered++;
      }
      const elapsed = performance.now() - start;
      const wireBytes = sent.reduce((n, r) => n + r.length, 0);
      // wire time of every request, plus the datasheet's block erase and 256 page programs
      expect(elapsed).toBeGreaterThanOrEqual(wireTimeMs(wireBytes, 115200) + 150 + 256 * 0.4 - 5);
      expect(h.board.flash.read(0x10000, image.length).equals(image)).toBe(true);
    } finally {
      h.close();
    }
  }, 20_000);
});

async function waitFor(check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
