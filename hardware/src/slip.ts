/**
 * SLIP framing as the ESP ROM loader uses it (RFC 1055; esptool `loader.py` write()
 * and slip_reader()): frames are `C0 … C0`; inside, `C0` is sent as `DB DC` and
 * `DB` as `DB DD`. Bytes between frames are noise (boot messages, garbage) and are
 * ignored, as the ROM ignores them.
 */

export const SLIP_END = 0xc0;
export const SLIP_ESC = 0xdb;
export const SLIP_ESC_END = 0xdc;
export const SLIP_ESC_ESC = 0xdd;

/** One frame, escaped and delimited. */
export function slipEncode(frame: Uint8Array): Buffer {
  let extra = 0;
  for (const b of frame) if (b === SLIP_END || b === SLIP_ESC) extra++;
  const out = Buffer.allocUnsafe(frame.length + extra + 2);
  let i = 0;
  out[i++] = SLIP_END;
  for (const b of frame) {
    if (b === SLIP_END) {
      out[i++] = SLIP_ESC;
      out[i++] = SLIP_ESC_END;
    } else if (b === SLIP_ESC) {
      out[i++] = SLIP_ESC;
      out[i++] = SLIP_ESC_ESC;
    } else {
      out[i++] = b;
    }
  }
  out[i++] = SLIP_END;
  return out;
}

/** A decoded frame; `error` says why it cannot be trusted (its bytes are then partial). */
export interface SlipFrame {
  data: Buffer;
  error?: 'oversize' | 'bad-escape';
}

/**
 * Streaming decoder. Frames longer than `maxFrameBytes` stop accumulating and are
 * delivered flagged `oversize` when their end arrives, so a flood cannot grow memory.
 */
export class SlipDecoder {
  readonly #maxFrameBytes: number;
  #buf: Buffer;
  #len = 0;
  #inFrame = false;
  #escape = false;
  #error: SlipFrame['error'];

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
    this.#buf = Buffer.allocUnsafe(Math.min(maxFrameBytes, 4096));
  }

  /** Feeds bytes; returns the frames they complete, in order. Empty frames (C0 C0) are skipped. */
  push(bytes: Uint8Array): SlipFrame[] {
    const frames: SlipFrame[] = [];
    for (const b of bytes) {
      if (!this.#inFrame) {
        if (b === SLIP_END) this.#start();
        continue; // noise between frames
      }
      if (b === SLIP_END) {
        if (this.#escape) this.#error ??= 'bad-escape';
        if (this.#len > 0 || this.#error) {
          const frame: SlipFrame = { data: Buffer.from(this.#buf.subarray(0, this.#len)) };
          if (this.#error) frame.error = this.#error;
          frames.push(frame);
        }
        // A C0 both ends a frame and may open the next one (esptool sends C0…C0C0…C0).
        this.#start();
        continue;
      }
      if (this.#escape) {
        this.#escape = false;
        if (b === SLIP_ESC_END) this.#append(SLIP_END);
        else if (b === SLIP_ESC_ESC) this.#append(SLIP_ESC);
        else this.#error ??= 'bad-escape';
        continue;
      }
      if (b === SLIP_ESC) this.#escape = true;
      else this.#append(b);
    }
    return frames;
  }

  /** Forgets a partial frame (a reset, a purge). */
  reset(): void {
    this.#inFrame = false;
    this.#escape = false;
    this.#len = 0;
    this.#error = undefined;
  }

  #start(): void {
    this.#inFrame = true;
    this.#escape = false;
    this.#len = 0;
    this.#error = undefined;
  }

  #append(b: number): void {
    if (this.#len >= this.#maxFrameBytes) {
      this.#error ??= 'oversize';
      return;
    }
    if (this.#len === this.#buf.length) {
      const bigger = Buffer.allocUnsafe(Math.min(this.#maxFrameBytes, this.#buf.length * 2));
      this.#buf.copy(bigger, 0, 0, this.#len);
      this.#buf = bigger;
    }
    this.#buf[this.#len++] = b;
  }
}
