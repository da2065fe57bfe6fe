/**
 * Fault injection on the serial link and the flash (off by default). With a seed the
 * faults are reproducible: the same seed and the same traffic give the same faults.
 *
 * - Bit errors: each byte, with probability `bitErrorRate`, has one random bit flipped.
 * - Dropped bytes: each byte, with probability `dropRate`, never arrives.
 * - Direction: `to-board` (host → chip), `to-host` (chip → host) or `both`.
 * - Power cut: after `powerCutAfterBytes` bytes of flash programming the chip loses
 *   power; the flash keeps exactly the bytes programmed so far. Power comes back at
 *   the next reset (EN low, then high), as when a board is plugged in again.
 */

export type FaultDirection = 'to-board' | 'to-host' | 'both';

export interface FaultOptions {
  seed?: number;
  bitErrorRate?: number;
  dropRate?: number;
  direction?: FaultDirection;
  powerCutAfterBytes?: number;
}

export interface FaultCounts {
  bitErrors: number;
  droppedBytes: number;
  powerCuts: number;
}

/** mulberry32: small, fast, good enough to spread faults; deterministic per seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class LinkFaults {
  readonly options: Readonly<FaultOptions>;
  readonly counts: FaultCounts = { bitErrors: 0, droppedBytes: 0, powerCuts: 0 };
  readonly #random: () => number;
  #enabled = true;

  constructor(options: FaultOptions) {
    for (const [name, rate] of [
      ['bitErrorRate', options.bitErrorRate],
      ['dropRate', options.dropRate],
    ] as const) {
      if (rate !== undefined && !(rate >= 0 && rate <= 1)) throw new RangeError(`${name} ${rate} is not a probability`);
    }
    this.options = { ...options };
    this.#random = seededRandom(options.seed ?? 1);
  }

  /** Turns the link faults off or on (e.g. to read back over a clean link). */
  set enabled(on: boolean) {
    this.#enabled = on;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** The bytes as they arrive after crossing the link in `direction`. */
  apply(data: Buffer, direction: 'to-board' | 'to-host'): Buffer {
    const dir = this.options.direction ?? 'both';
    const flip = this.options.bitErrorRate ?? 0;
    const drop = this.options.dropRate ?? 0;
    if (!this.#enabled || (dir !== 'both' && dir !== direction) || (flip === 0 && drop === 0)) return data;
    const out: number[] = [];
    for (const byte of data) {
      if (drop > 0 && this.#random() < drop) {
        this.counts.droppedBytes++;
        continue;
      }
      if (flip > 0 && this.#random() < flip) {
        this.counts.bitErrors++;
        out.push(byte ^ (1 << Math.floor(this.#random() * 8)));
      } else out.push(byte);
    }
    return Buffer.from(out);
  }
}
