/** The library entry points: startBoard / startBoards, as a bench or a test harness uses them. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FlashChip, startBoard, startBoards } from '../src/index.ts';
import { reachable } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'kiln-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('startBoards', () => {
  it('starts a bench in one call: each board on its own port, flash file and MAC', async () => {
    const bench = await startBoards([
      { chip: 'esp32', flash: join(dir, 'a.bin') },
      { chip: 'esp32s3', flash: join(dir, 'b.bin') },
      { chip: 'esp32c3', flash: join(dir, 'c.bin'), socket: true },
    ]);
    try {
      expect(new Set(bench.map((b) => b.url)).size).toBe(3);
      expect(new Set(bench.map((b) => b.board.chip.mac.join())).size).toBe(3);
      expect(bench.map((b) => b.board.chip.name)).toEqual(['esp32', 'esp32s3', 'esp32c3']);
      expect(bench[2]?.socketUrl).toMatch(/^socket:\/\/127\.0\.0\.1:\d+$/);
      for (const b of bench) expect(await reachable(b.url)).toBe(true);
    } finally {
      await Promise.all(bench.map((b) => b.close()));
    }
    for (const b of bench) expect(await reachable(b.url)).toBe(false);
  });

  it('is all or nothing: when one board cannot start, the others are stopped and their files released', async () => {
    const shared = join(dir, 'shared.bin');
    await expect(
      startBoards([
        { chip: 'esp32', flash: shared },
        { chip: 'esp32', flash: shared },
      ]),
    ).rejects.toThrow(/already used by another board/);
    const again = FlashChip.open(shared); // the first board closed it
    again.close();
  });

  it('refuses to listen where other machines can reach it unless told so', async () => {
    await expect(
      startBoard({ chip: 'esp32', flash: FlashChip.inMemory(1 << 18), listen: '0.0.0.0:0' }),
    ).rejects.toThrow(/reachable from other machines/);
    await expect(startBoard({ chip: 'esp32', flash: FlashChip.inMemory(1 << 18), rfc2217: false })).rejects.toThrow(
      /cannot be reached/,
    );
  });

  it('says so when the port is taken', async () => {
    const first = await startBoard({ chip: 'esp32', flash: FlashChip.inMemory(1 << 18) });
    try {
      const port = Number(new URL(first.url).port);
      await expect(startBoard({ chip: 'esp32', flash: FlashChip.inMemory(1 << 18), listen: { port } })).rejects.toThrow(
        /cannot listen on 127\.0\.0\.1:\d+/,
      );
    } finally {
      await first.close();
    }
  });
});
