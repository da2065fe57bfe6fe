/**
 * A SPI NOR flash chip kept in a file. NOR semantics: erase sets bytes to 0xFF in
 * 4 KiB sectors or 64 KiB blocks; programming can only clear bits (new = old AND data).
 * The image lives in memory and every change is written through to the file at once;
 * close() fsyncs, so a board stopped with SIGINT/SIGTERM leaves a consistent file.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '@kiln/protocol';
import type { FlashOperation } from '../link/timing.ts';

export const SECTOR_SIZE = 0x1000;
export const BLOCK_SIZE = 0x10000;
export const DEFAULT_FLASH_SIZE = 4 * 1024 * 1024;
/** Sizes a board can have: powers of two from 256 KiB (esptool's smallest) to 16 MiB. */
export const FLASH_SIZES: readonly number[] = [18, 19, 20, 21, 22, 23, 24].map((bits) => 2 ** bits);

/** An access outside the chip or an erase not on a sector boundary. */
export class FlashRangeError extends RangeError {}

/** The chip lost power in the middle of programming (fault injection). */
export class PowerLossError extends Error {}

/** Files open in this process, so two boards never share one. */
const openFiles = new Set<string>();

export function describeSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)}MB` : `${bytes / 1024}KB`;
}

/** Parses `4MB`, `4M`, `512KB`, `0x400000` or `4194304` into bytes. */
export function parseFlashSize(text: string): number {
  const m = /^\s*(0x[0-9a-f]+|\d+)\s*(k|kb|kib|m|mb|mib)?\s*$/i.exec(text);
  const unit = m?.[2]?.[0]?.toLowerCase();
  const bytes = m?.[1] ? Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1) : Number.NaN;
  if (!FLASH_SIZES.includes(bytes)) {
    throw new UsageError('BOARD_BAD_FLASH_SIZE', `'${text}' is not a flash size a board can have`, {
      hint: `choose one of: ${FLASH_SIZES.map(describeSize).join(', ')}`,
    });
  }
  return bytes;
}

export class FlashChip {
  readonly size: number;
  /** The file behind the chip, or undefined for a chip that lives in memory only. */
  readonly path: string | undefined;
  readonly #image: Buffer;
  #fd: number | undefined;
  #powerCut: { remaining: number; onCut: () => void } | undefined;
  /** Sees every program and erase (the timing model counts their busy time). */
  onOperation: ((op: FlashOperation) => void) | undefined;

  private constructor(image: Buffer, path?: string, fd?: number) {
    this.#image = image;
    this.size = image.length;
    this.path = path;
    this.#fd = fd;
  }

  /** A blank (erased) chip that is not backed by a file: for tests and throwaway boards. */
  static inMemory(size = DEFAULT_FLASH_SIZE): FlashChip {
    checkSize(size);
    return new FlashChip(Buffer.alloc(size, 0xff));
  }

  /**
   * Opens the flash file, creating it erased when it does not exist. Without `size`
   * an existing file keeps its own size; with it, the two must agree.
   */
  static open(path: string, size?: number): FlashChip {
    const file = resolve(path);
    if (size !== undefined) checkSize(size);
    if (openFiles.has(file)) {
      throw new UsageError('BOARD_FLASH_IN_USE', `flash file ${file} is already used by another board`, {
        hint: 'give each board its own --flash file',
      });
    }
    let fd: number;
    let image: Buffer;
    try {
      if (existsSync(file)) {
        fd = openSync(file, 'r+');
        const actual = fstatSync(fd).size;
        if ((size !== undefined && actual !== size) || !FLASH_SIZES.includes(actual)) {
          closeSync(fd);
          throw new UsageError(
            'BOARD_FLASH_SIZE_MISMATCH',
            `flash file ${file} is ${actual} bytes, ${size === undefined ? 'not a flash size' : `not ${describeSize(size)}`}`,
            {
              hint: FLASH_SIZES.includes(actual)
                ? `pass --flash-size ${describeSize(actual)} to keep it, or use another --flash file`
                : 'use another --flash file; a flash image is 256KB to 16MB, a power of two',
            },
          );
        }
        image = Buffer.allocUnsafe(actual);
        let done = 0;
        while (done < actual) done += readSync(fd, image, done, actual - done, done);
      } else {
        image = Buffer.alloc(size ?? DEFAULT_FLASH_SIZE, 0xff);
        fd = openSync(file, 'wx+');
        writeAll(fd, image, 0);
        fsyncSync(fd);
      }
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError('BOARD_FLASH_FILE', `cannot use flash file ${file}: ${(e as Error).message}`, {
        hint: 'check that its folder exists and is writable',
        cause: e,
      });
    }
    openFiles.add(file);
    return new FlashChip(image, file, fd);
  }

  read(offset: number, length: number): Buffer {
    this.#check(offset, length);
    return Buffer.from(this.#image.subarray(offset, offset + length));
  }

  /**
   * Page program: every byte becomes `old & new`; bits already 0 stay 0. With a power
   * cut armed, only the bytes before the cut are programmed, then PowerLossError.
   */
  program(offset: number, data: Uint8Array): void {
    this.#check(offset, data.length);
    const cut = this.#powerCut;
    const length = cut ? Math.min(data.length, cut.remaining) : data.length;
    for (let i = 0; i < length; i++) this.#image[offset + i] = (this.#image[offset + i] ?? 0) & (data[i] ?? 0);
    this.#persist(offset, length);
    this.onOperation?.({ kind: 'program', offset, length });
    if (cut) {
      cut.remaining -= length;
      if (length < data.length || cut.remaining === 0) {
        this.#powerCut = undefined;
        cut.onCut();
        throw new PowerLossError(`power lost after programming byte ${offset + length - 1}`);
      }
    }
  }

  /** After `bytes` more bytes of programming the power goes (once); `onCut` runs first. */
  armPowerCut(bytes: number, onCut: () => void): void {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`power cut after ${bytes} bytes`);
    this.#powerCut = { remaining: bytes, onCut };
  }

  eraseSector(address: number): void {
    this.#erase(address, SECTOR_SIZE);
    this.onOperation?.({ kind: 'erase-sector', offset: address });
  }

  eraseBlock(address: number): void {
    this.#erase(address, BLOCK_SIZE);
    this.onOperation?.({ kind: 'erase-block', offset: address });
  }

  /** Erases [offset, offset+length) with sector erases; both must be sector-aligned. */
  eraseRange(offset: number, length: number): void {
    if (offset % SECTOR_SIZE || length % SECTOR_SIZE) {
      throw new FlashRangeError(`erase of ${length} bytes at ${hex(offset)} is not on 4 KiB sector boundaries`);
    }
    this.#check(offset, length);
    // What a flash driver does: 64 KiB block erases where aligned, sectors elsewhere.
    let at = offset;
    const end = offset + length;
    while (at < end) {
      const step = at % BLOCK_SIZE === 0 && end - at >= BLOCK_SIZE ? BLOCK_SIZE : SECTOR_SIZE;
      this.#image.fill(0xff, at, at + step);
      this.onOperation?.({ kind: step === BLOCK_SIZE ? 'erase-block' : 'erase-sector', offset: at });
      at += step;
    }
    this.#persist(offset, length);
  }

  eraseChip(): void {
    this.#image.fill(0xff);
    this.#persist(0, this.size);
    this.onOperation?.({ kind: 'erase-chip', size: this.size });
  }

  /** Flushes the file to disk. */
  sync(): void {
    if (this.#fd !== undefined) fsyncSync(this.#fd);
  }

  /** Flushes and closes the file; the chip can no longer be used. */
  close(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
      if (this.path) openFiles.delete(this.path);
    }
  }

  #erase(address: number, size: number): void {
    if (address % size) throw new FlashRangeError(`${hex(address)} is not on a ${size / 1024} KiB boundary`);
    this.#check(address, size);
    this.#image.fill(0xff, address, address + size);
    this.#persist(address, size);
  }

  #check(offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) {
      throw new FlashRangeError(`bad flash range ${offset}+${length}`);
    }
    if (offset + length > this.size) {
      throw new FlashRangeError(
        `${hex(offset)}+${hex(length)} is past the end of the ${describeSize(this.size)} flash`,
      );
    }
  }

  #persist(offset: number, length: number): void {
    if (this.#fd !== undefined && length > 0) writeAll(this.#fd, this.#image.subarray(offset, offset + length), offset);
  }
}

function checkSize(size: number): void {
  if (!FLASH_SIZES.includes(size)) parseFlashSize(String(size)); // throws the usage error
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
