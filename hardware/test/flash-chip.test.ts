/** The flash file: NOR semantics, sector and block erase, persistence, and the mistakes it refuses. */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlashChip, FlashRangeError, parseFlashSize } from '../src/flash/flash-chip.ts';

let dir: string;
const open: FlashChip[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-flash-'));
});
afterEach(() => {
  for (const f of open.splice(0)) f.close();
  rmSync(dir, { recursive: true, force: true });
});

function chip(name = 'f.bin', size?: number): FlashChip {
  const f = FlashChip.open(join(dir, name), size);
  open.push(f);
  return f;
}

describe('flash chip', () => {
  it('starts erased: a new 4 MiB file of 0xFF', () => {
    const f = chip();
    expect(f.size).toBe(4 * 1024 * 1024);
    expect(statSync(join(dir, 'f.bin')).size).toBe(4 * 1024 * 1024);
    expect(f.read(0, 16).every((b) => b === 0xff)).toBe(true);
  });

  it('programs by clearing bits only: a second write ANDs with what is there', () => {
    const f = FlashChip.inMemory(1 << 18);
    f.program(0x10, Buffer.from([0xf0, 0x0f, 0xaa]));
    f.program(0x10, Buffer.from([0x3c, 0xff, 0x55]));
    expect([...f.read(0x10, 3)]).toEqual([0x30, 0x0f, 0x00]);
  });

  it('erases 4 KiB sectors and 64 KiB blocks on their boundaries only', () => {
    const f = FlashChip.inMemory(1 << 18);
    f.program(0, Buffer.alloc(0x20000, 0));
    f.eraseSector(0x1000);
    expect([f.read(0xfff, 1)[0], f.read(0x1000, 1)[0], f.read(0x1fff, 1)[0], f.read(0x2000, 1)[0]]).toEqual([
      0, 0xff, 0xff, 0,
    ]);
    f.eraseBlock(0x10000);
    expect(f.read(0x10000, 0x10000).every((b) => b === 0xff)).toBe(true);
    expect(() => f.eraseSector(0x800)).toThrow(FlashRangeError);
    expect(() => f.eraseBlock(0x1000)).toThrow(FlashRangeError);
    expect(() => f.eraseRange(0x1000, 0x800)).toThrow(FlashRangeError);
  });

  it('refuses access past the end of the chip', () => {
    const f = FlashChip.inMemory(1 << 18);
    expect(() => f.read((1 << 18) - 2, 4)).toThrow(FlashRangeError);
    expect(() => f.program(1 << 18, Buffer.from([0]))).toThrow(FlashRangeError);
  });

  it('keeps what was written in the file, across close and reopen', () => {
    const f = chip('keep.bin', 1 << 20);
    f.program(0x1234, Buffer.from('persist me'));
    f.eraseSector(0x2000);
    f.close();
    expect(
      readFileSync(join(dir, 'keep.bin'))
        .subarray(0x1234, 0x1234 + 10)
        .toString(),
    ).toBe('persist me');
    const again = chip('keep.bin');
    expect(again.size).toBe(1 << 20);
    expect(again.read(0x1234, 10).toString()).toBe('persist me');
  });

  it('refuses a file whose size is not the one asked for, or not a flash size', () => {
    chip('a.bin', 1 << 20).close();
    expect(() => FlashChip.open(join(dir, 'a.bin'), 4 << 20)).toThrow(/is 1048576 bytes, not 4MB/);
    writeFileSync(join(dir, 'odd.bin'), Buffer.alloc(1000));
    expect(() => FlashChip.open(join(dir, 'odd.bin'))).toThrow(/not a flash size/);
  });

  it('refuses a file another board in this process has open', () => {
    chip('shared.bin');
    expect(() => FlashChip.open(join(dir, 'shared.bin'))).toThrow(/already used by another board/);
  });

  it('parses sizes as esptool writes them, up to 16 MB', () => {
    expect(parseFlashSize('4MB')).toBe(4 << 20);
    expect(parseFlashSize('16M')).toBe(16 << 20);
    expect(parseFlashSize('512KB')).toBe(512 << 10);
    expect(parseFlashSize('0x200000')).toBe(2 << 20);
    expect(() => parseFlashSize('32MB')).toThrow(/not a flash size a board can have/);
    expect(() => parseFlashSize('3MB')).toThrow();
  });
});
