/**
 * One FLASH_BEGIN … FLASH_END (or FLASH_DEFL_*) session. The ROM erases the whole
 * region when the session begins; the stub erases just ahead of what it writes, a
 * 64 KiB block erase whenever the next erase is block-aligned and at least a block of
 * the region is still to erase, else one 4 KiB sector (esptool's flasher stub,
 * `start_next_erase` in esptool-legacy-flasher-stub `stub_write_flash.c`;
 * `stub_lib_flash_start_next_erase` in esp-flasher-stub). esptool's
 * `flash_begin`/`flash_defl_begin` timeouts say the same: only the ROM's FLASH_BEGIN
 * takes erase time.
 *
 * The stub also reports a failure in writing a block late: it acknowledges a data
 * block before it writes it, so what goes wrong while writing block N is answered to
 * block N+1 or FLASH_END (`get_flash_error()` in the stub's command loop). `process`
 * keeps that failure for `check`.
 *
 * Compressed sessions inflate a zlib stream fed block by block (node:zlib).
 */
import { constants, createInflate, type Inflate } from 'node:zlib';
import { BLOCK_SIZE, type FlashChip, FlashRangeError, SECTOR_SIZE } from '../flash/flash-chip.ts';
import { CommandFailure, fail } from './failure.ts';

/** The largest FLASH_DATA block either loader takes: esptool-js sends 0x4000 even to the ROM. */
export const MAX_FLASH_BLOCK = 0x4000;

export interface FlashBeginParams {
  /** Bytes to erase (ROM) or to write (stub); for the compressed stub, the uncompressed size. */
  size: number;
  blocks: number;
  blockSize: number;
  offset: number;
  compressed: boolean;
  stub: boolean;
}

export class FlashWriter {
  readonly params: FlashBeginParams;
  readonly #flash: FlashChip;
  /** End of the region the session may write: erase size rounded up to whole sectors. */
  readonly #end: number;
  #erasedTo: number;
  #nextSeq = 0;
  #inflater: Inflater | undefined;
  #written = 0;
  /** The stub's `last_error`: the first failure while writing an acknowledged block. */
  #lastError: CommandFailure | undefined;

  constructor(flash: FlashChip, params: FlashBeginParams) {
    if (params.blockSize === 0 || params.blockSize > MAX_FLASH_BLOCK) fail('bad-block-size');
    const start = params.offset - (params.offset % SECTOR_SIZE);
    const end = params.offset + params.size;
    if (params.offset > flash.size || end > flash.size) fail('flash-operation', 'region is past the end of the flash');
    this.params = params;
    this.#flash = flash;
    this.#end = Math.min(flash.size, Math.ceil(end / SECTOR_SIZE) * SECTOR_SIZE);
    this.#erasedTo = start;
    if (!params.stub) this.#eraseTo(this.#end);
    if (params.compressed) this.#inflater = new Inflater((chunk) => this.#program(chunk));
  }

  /** Bytes written so far (uncompressed). */
  get written(): number {
    return this.#written;
  }

  /** A FLASH_DATA block: goes to offset + seq × block size, so a retried block lands in place. */
  writeBlock(seq: number, data: Buffer): void {
    if (this.params.compressed) fail('not-in-flash-mode', 'a compressed session takes FLASH_DEFL_DATA');
    if (data.length > this.params.blockSize) fail('bad-length', 'block larger than the session block size');
    if (seq >= this.params.blocks) fail('too-much-data', `block ${seq} of ${this.params.blocks}`);
    this.#writeAt(this.params.offset + seq * this.params.blockSize, data);
  }

  /** A FLASH_DEFL_DATA block: the next piece of the zlib stream, in order. */
  async inflateBlock(seq: number, data: Buffer): Promise<void> {
    const inflater = this.#inflater;
    if (!inflater) fail('not-in-flash-mode', 'an uncompressed session takes FLASH_DATA');
    if (data.length > this.params.blockSize) fail('bad-length', 'block larger than the session block size');
    if (seq !== this.#nextSeq) fail('bad-parameter', `expected block ${this.#nextSeq}, got ${seq}`);
    await inflater.push(data);
    this.#nextSeq++;
  }

  /** FLASH_DEFL_END on the stub: the stream must have ended with everything written. */
  checkComplete(): void {
    this.check();
    if (this.#inflater && this.#written < this.params.size) fail('not-enough-data');
  }

  /** Throws the failure an earlier, already acknowledged block ran into (stub). */
  check(): void {
    if (this.#lastError) throw this.#lastError;
  }

  /** Writes an acknowledged block (stub): a failure is kept for the next `check`, as the stub's `last_error`. */
  async process(write: () => void | Promise<void>): Promise<void> {
    if (this.#lastError) return;
    try {
      await write();
    } catch (e) {
      if (!(e instanceof CommandFailure)) throw e;
      this.#lastError = e;
    }
  }

  abort(): void {
    this.#inflater?.destroy();
  }

  #program(chunk: Buffer): void {
    this.#writeAt(this.params.offset + this.#written, chunk);
    this.#written += chunk.length;
  }

  #writeAt(address: number, data: Buffer): void {
    let body = data;
    const room = this.#end - address;
    if (data.length > room) {
      // Bytes past the session's region may only be the 0xFF padding of the last
      // block: programming 0xFF changes nothing, so they are dropped.
      const tail = data.subarray(Math.max(0, room));
      if (room < 0 || tail.some((b) => b !== 0xff)) fail('too-much-data', 'data past the end of the region');
      body = data.subarray(0, room);
    }
    if (this.params.stub) this.#eraseTo(address + body.length);
    try {
      this.#flash.program(address, body);
    } catch (e) {
      if (e instanceof FlashRangeError) fail('flash-operation', e.message);
      throw e;
    }
    if (!this.params.compressed) this.#written = Math.max(this.#written, address + body.length - this.params.offset);
  }

  /**
   * Erases at least up to `end`. The ROM erases its whole region at once (a flash
   * driver's erase of a range: blocks where aligned, sectors elsewhere); the stub one
   * erase at a time, a 64 KiB block when the next erase is block-aligned and a whole
   * block of the region is left, else a sector, so it may erase past `end`.
   */
  #eraseTo(end: number): void {
    const target = Math.min(this.#end, Math.ceil(end / SECTOR_SIZE) * SECTOR_SIZE);
    if (!this.params.stub) {
      if (target > this.#erasedTo) this.#flash.eraseRange(this.#erasedTo, target - this.#erasedTo);
      this.#erasedTo = Math.max(this.#erasedTo, target);
      return;
    }
    while (this.#erasedTo < target) {
      const at = this.#erasedTo;
      const step = at % BLOCK_SIZE === 0 && this.#end - at >= BLOCK_SIZE ? BLOCK_SIZE : SECTOR_SIZE;
      this.#flash.eraseRange(at, step);
      this.#erasedTo = at + step;
    }
  }
}

/** A zlib stream fed block by block; output goes to `sink` in order, before push() resolves. */
class Inflater {
  readonly #z: Inflate;
  #error: Error | undefined;

  constructor(sink: (chunk: Buffer) => void) {
    this.#z = createInflate();
    this.#z.on('data', (chunk: Buffer) => {
      if (this.#error) return;
      try {
        sink(chunk);
      } catch (e) {
        this.#error = e as Error;
        this.#z.destroy(e as Error); // emits 'error', which settles the pending push
      }
    });
    this.#z.on('error', (e) => {
      this.#error ??= e;
    });
  }

  push(block: Buffer): Promise<void> {
    if (this.#error) return Promise.reject(this.#failure());
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        this.#z.off('error', settle);
        // Let 'data' events queued by this block run before answering.
        setImmediate(() => (this.#error ? reject(this.#failure()) : resolve()));
      };
      this.#z.once('error', settle);
      this.#z.write(block);
      this.#z.flush(constants.Z_SYNC_FLUSH, settle);
    });
  }

  destroy(): void {
    this.#z.destroy();
  }

  #failure(): Error {
    const e = this.#error;
    return e instanceof CommandFailure ? e : new CommandFailure('inflate', e?.message);
  }
}
