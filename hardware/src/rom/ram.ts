/**
 * The chip's RAM as the loader sees it: what MEM_DATA blocks wrote, where. Cleared
 * by a reset. READ_REG of an address in a written block reads it back.
 */

export interface RamSegment {
  address: number;
  data: Buffer;
}

export class Ram {
  readonly #segments: RamSegment[] = [];

  write(address: number, data: Uint8Array): void {
    this.#segments.push({ address, data: Buffer.from(data) });
  }

  /** The word at an address, if some block wrote all of it (the latest write wins). */
  readWord(address: number): number | undefined {
    for (let i = this.#segments.length - 1; i >= 0; i--) {
      const s = this.#segments[i];
      if (s && address >= s.address && address + 4 <= s.address + s.data.length) {
        return s.data.readUInt32LE(address - s.address);
      }
    }
    return undefined;
  }

  /** Whether code could start at this address: some written block holds it. */
  holds(address: number): boolean {
    return this.#segments.some((s) => address >= s.address && address < s.address + s.data.length);
  }

  get segments(): readonly RamSegment[] {
    return this.#segments;
  }

  clear(): void {
    this.#segments.length = 0;
  }
}
