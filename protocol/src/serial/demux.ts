/**
 * Splits one UART byte stream into ESP-IDF text lines, Improv Serial frames and
 * Kiln RPC lines (SPEC.md §2.1). Byte-at-a-time and bounded: it never holds more
 * than one line (1024 bytes) or one frame (265 bytes) or one RPC line (513 bytes).
 * The C twin is firmware/components/kiln_protocol/src/kiln_serial_demux.c.
 */
import { LIMITS } from '../limits.ts';
import { IMPROV_HEADER_BYTES, IMPROV_MAGIC, IMPROV_VERSION } from './improv.ts';

export type SerialEvent =
  | { kind: 'log'; text: string }
  | { kind: 'improv'; frame: Buffer }
  | { kind: 'rpc'; line: Buffer };

enum State {
  LineStart,
  Prefix, // matching "IMPROV" + version
  Text,
  Improv,
  AfterImprov,
  Rpc,
  Discard,
}

const NL = 0x0a;
const CR = 0x0d;

export class SerialDemux {
  private state = State.LineStart;
  private buf = Buffer.alloc(LIMITS.serialLineBytes + 1);
  private len = 0;
  private need = 0;

  /** Feeds bytes; returns the events they complete, in order. */
  push(chunk: Uint8Array): SerialEvent[] {
    const out: SerialEvent[] = [];
    for (const b of chunk) this.step(b, out);
    return out;
  }

  /** Drops whatever partial line or frame is held (after a reset of the device, say). */
  reset(): void {
    this.state = State.LineStart;
    this.len = 0;
  }

  private step(b: number, out: SerialEvent[]): void {
    switch (this.state) {
      case State.AfterImprov:
        this.state = State.LineStart;
        if (b === NL) return;
        this.lineStart(b, out);
        return;
      case State.LineStart:
        this.lineStart(b, out);
        return;
      case State.Prefix: {
        this.buf[this.len++] = b;
        const i = this.len - 1;
        const ok = i < IMPROV_MAGIC.length ? b === IMPROV_MAGIC[i] : b === IMPROV_VERSION;
        if (!ok) {
          this.len -= 1;
          this.state = State.Text;
          this.text(b, out);
        } else if (this.len === IMPROV_MAGIC.length + 1) {
          this.state = State.Improv;
          this.need = IMPROV_HEADER_BYTES;
        }
        return;
      }
      case State.Improv:
        this.buf[this.len++] = b;
        if (this.len === IMPROV_HEADER_BYTES) this.need = IMPROV_HEADER_BYTES + b + 1;
        if (this.len === this.need) {
          out.push({ kind: 'improv', frame: Buffer.from(this.buf.subarray(0, this.len)) });
          this.len = 0;
          this.state = State.AfterImprov;
        }
        return;
      case State.Rpc:
        this.buf[this.len++] = b;
        if (b === NL || this.len === LIMITS.rpcLineBytes + 1) {
          out.push({ kind: 'rpc', line: Buffer.from(this.buf.subarray(0, this.len)) });
          this.len = 0;
          this.state = b === NL ? State.LineStart : State.Discard;
        }
        return;
      case State.Discard:
        if (b === NL) this.state = State.LineStart;
        return;
      case State.Text:
        this.text(b, out);
        return;
    }
  }

  private lineStart(b: number, out: SerialEvent[]): void {
    this.len = 0;
    if (b === 0x01) {
      this.state = State.Rpc;
      this.buf[this.len++] = b;
    } else if (b === IMPROV_MAGIC[0]) {
      this.state = State.Prefix;
      this.buf[this.len++] = b;
    } else {
      this.state = State.Text;
      this.text(b, out);
    }
  }

  private text(b: number, out: SerialEvent[]): void {
    if (b === NL) {
      let end = this.len;
      if (end > 0 && this.buf[end - 1] === CR) end -= 1;
      out.push({ kind: 'log', text: this.buf.toString('utf8', 0, end) });
      this.len = 0;
      this.state = State.LineStart;
      return;
    }
    if (this.len === LIMITS.serialLineBytes) {
      // A 1025th byte that is not '\n': deliver what is held; the text goes on, not at a line start.
      out.push({ kind: 'log', text: this.buf.toString('utf8', 0, this.len) });
      this.len = 0;
    }
    this.buf[this.len++] = b;
  }
}
