/**
 * Panic blocks in the console (ESP-IDF panic handler output): they open with
 * `Guru Meditation Error:`, `abort() was called`, `***ERROR*** A stack overflow` or
 * `Core N register dump:`, and close with `ELF file SHA256:` or `Rebooting...`, as
 * esp-idf-monitor's constants.py delimits them. Inside, code addresses (0x4xxxxxxx,
 * the PCs of `Backtrace:` pairs and the register dump) are what addr2line can decode.
 */

const START =
  /Guru Meditation Error:|abort\(\) was called at PC|\*\*\*ERROR\*\*\* A stack overflow|Core\s+\d+ register dump:/;
const END = /ELF file SHA256:|Rebooting\.\.\./;
/** Instruction addresses on Xtensa (0x40…) and RISC-V chips (0x42…, 0x40…, 0x3fc… are data). */
const CODE_ADDRESS = /\b0x4[0-2][0-9a-f]{6}\b/gi;

export type PanicMark = 'start' | 'inside' | 'end' | undefined;

export class PanicDetector {
  #inside = false;

  /** Where this line stands relative to a panic block. */
  feed(line: string): PanicMark {
    if (!this.#inside && START.test(line)) {
      this.#inside = true;
      if (!END.test(line)) return 'start';
      this.#inside = false;
      return 'end';
    }
    if (this.#inside && END.test(line)) {
      this.#inside = false;
      return 'end';
    }
    return this.#inside ? 'inside' : undefined;
  }

  get inside(): boolean {
    return this.#inside;
  }
}

/** The code addresses in a panic line worth decoding: for `Backtrace:` the PC of each PC:SP pair. */
export function codeAddresses(line: string): string[] {
  const backtrace = /Backtrace:(.*)$/.exec(line);
  if (backtrace?.[1]) {
    return [...backtrace[1].matchAll(/(0x[0-9a-f]{8}):0x[0-9a-f]{8}/gi)]
      .map((m) => m[1] as string)
      .filter((a) => /^0x4[0-2]/i.test(a));
  }
  return [...new Set(line.match(CODE_ADDRESS) ?? [])];
}
