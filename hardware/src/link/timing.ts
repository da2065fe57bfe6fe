/**
 * The timing model (off by default): bytes take their time on the UART, and the
 * flash takes its time to erase and program, so a flashing benchmark against the
 * board sees what a DevKit would give.
 *
 * UART: 8N1 is 10 bits a byte (start, 8 data, stop), so a byte lasts 10 / baud
 * seconds. Both directions are paced at the chip's current rate: what the chip sends
 * reaches the host no earlier, and what the host sends reaches the chip no faster.
 * The two directions are separate lines (a UART is full duplex), and each keeps its
 * own clock: a chunk is due when the line has carried everything before it, computed
 * from the previous chunk's due time, not from when a timer fired, so Node's timer
 * granularity delays a delivery by a millisecond or so but never accumulates.
 *
 * Flash: typical times of the Winbond W25Q32JV (datasheet rev. I, "AC Electrical
 * Characteristics"): page program tPP 0.4 ms per 256-byte page, sector erase (4 KiB)
 * tSE 45 ms, block erase (64 KiB) tBE2 150 ms, chip erase tCE 10 s for its 4 MB,
 * scaled here by size for other flash sizes. Real chips vary; these are the typical
 * column, not the maxima.
 */

export const BITS_PER_BYTE = 10;

/** Milliseconds `bytes` take on the wire at `baud` (8N1). */
export function wireTimeMs(bytes: number, baud: number): number {
  return (bytes * BITS_PER_BYTE * 1000) / baud;
}

export const W25Q32JV_TYPICAL = {
  pageProgramMs: 0.4,
  pageSize: 256,
  sectorEraseMs: 45,
  blockEraseMs: 150,
  chipEraseMsPer4MB: 10_000,
} as const;

export type FlashOperation =
  | { kind: 'program'; offset: number; length: number }
  | { kind: 'erase-sector' | 'erase-block'; offset: number }
  | { kind: 'erase-chip'; size: number };

/** How long the flash is busy with one operation (typical datasheet times). */
export function flashBusyMs(op: FlashOperation, t = W25Q32JV_TYPICAL): number {
  switch (op.kind) {
    case 'program': {
      if (op.length === 0) return 0;
      const first = Math.floor(op.offset / t.pageSize);
      const last = Math.floor((op.offset + op.length - 1) / t.pageSize);
      return (last - first + 1) * t.pageProgramMs;
    }
    case 'erase-sector':
      return t.sectorEraseMs;
    case 'erase-block':
      return t.blockEraseMs;
    case 'erase-chip':
      return (t.chipEraseMsPer4MB * op.size) / (4 * 1024 * 1024);
  }
}

/**
 * When the flash will be idle again: a timeline, not a sum. An operation starts when
 * the previous one has finished (the chip's WIP bit: a flash driver polls RDSR before
 * it sends the next erase or program) and runs in the background; whoever needs the
 * flash idle (the ROM before it answers, the stub before its next command) waits for
 * it. Time the chip spent on something else meanwhile (receiving the next block on the
 * UART) is not added again, which is what lets the stub hide its flash time behind the
 * wire.
 */
export class FlashBusyClock {
  #idleAt = 0;

  add(op: FlashOperation): void {
    this.#idleAt = Math.max(performance.now(), this.#idleAt) + flashBusyMs(op);
  }

  /** Milliseconds until the flash is idle (0 when it is). */
  get busyMs(): number {
    return Math.max(0, this.#idleAt - performance.now());
  }

  /** Waits until every operation started so far has finished. */
  async drain(): Promise<void> {
    const ms = this.busyMs;
    if (ms > 0) await new Promise((r) => setTimeout(r, Math.ceil(ms)));
  }
}

/**
 * One direction of a UART: bytes queued at the rate in force when they were sent,
 * delivered in order when their last bit has arrived. One timer, so order is kept.
 */
export class PacedLine {
  readonly #deliver: (data: Buffer) => void;
  readonly #queue: { data: Buffer; at: number }[] = [];
  #freeAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(deliver: (data: Buffer) => void) {
    this.#deliver = deliver;
  }

  send(data: Buffer, baud: number): void {
    if (data.length === 0) return;
    const now = performance.now();
    this.#freeAt = Math.max(now, this.#freeAt) + wireTimeMs(data.length, baud);
    this.#queue.push({ data, at: this.#freeAt });
    this.#schedule();
  }

  /** Drops what is still on the wire (a reset, the host closing the port). */
  clear(): void {
    this.#queue.length = 0;
    this.#freeAt = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer || this.#queue.length === 0) return;
    const wait = Math.max(0, (this.#queue[0]?.at ?? 0) - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const now = performance.now();
      while (this.#queue.length && (this.#queue[0]?.at ?? 0) <= now + 0.5) {
        const next = this.#queue.shift();
        if (next) this.#deliver(next.data);
      }
      this.#schedule();
    }, Math.ceil(wait));
  }
}
