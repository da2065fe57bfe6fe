/**
 * What the TLS front's thread and the event loop say to each other about connections, in
 * batches: each batch is one postMessage whose operations are an Int32Array of (op, id, n)
 * triples and whose payload bytes are one ArrayBuffer, both transferred, not copied. A
 * Buffer from the socket or from ws is a view into a shared 8 KiB pool, and structured
 * clone copies a view's whole backing buffer, so bytes are gathered into a batch of their
 * own. A batch is sent when it is full or when the side's scheduler runs (the thread: its
 * next check phase; the event loop: when the current task ends).
 */

/** Operations; `n` is a byte count unless said otherwise. */
export const Op = {
  /** thread → loop: a TLS connection is up; n = remote port; strs: remote address, family. */
  OPEN: 1,
  /** thread → loop: n plaintext bytes read. */
  DATA: 2,
  /** thread → loop: the peer ended its side. */
  END: 3,
  /** thread → loop: the connection is gone. */
  CLOSE: 4,
  /** thread → loop: the peer is not taking what is written (TLS holds past its high-water mark). */
  BLOCKED: 5,
  /** thread → loop: it took it all again. */
  DRAINED: 6,
  /** loop → thread: n bytes to send. */
  WRITE: 7,
  /** loop → thread: end our side once written. */
  SHUT: 8,
  /** loop → thread: drop the connection now. */
  DESTROY: 9,
  /** loop → thread: stop reading (the loop's reader is full), or read again. */
  PAUSE: 10,
  RESUME: 11,
  /** loop → thread: n batches taken (the thread reads ahead of the loop by a few at most). */
  TAKEN: 12,
} as const;

export interface Batch {
  ops: Int32Array;
  bytes: ArrayBuffer;
  strs: string[];
}

export interface BatchLimits {
  /** Operations per batch. */
  ops: number;
  /** Payload bytes per batch: a batch's buffer lives as long as the longest-held slice of it. */
  bytes: number;
}

export class BatchBuilder {
  #ops: number[] = [];
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #strs: string[] = [];
  #scheduled = false;
  readonly #flush = () => this.flush();

  constructor(
    private readonly post: (batch: Batch, transfer: ArrayBuffer[]) => void,
    private readonly schedule: (fn: () => void) => void,
    private readonly limits: BatchLimits,
  ) {}

  /** An operation; its payload, if any, is `chunks` joined (n is then their length). */
  add(op: number, id: number, n = 0, chunks?: Uint8Array | readonly Uint8Array[], ...strs: string[]): void {
    if (chunks) {
      n = 0;
      for (const c of Array.isArray(chunks) ? chunks : [chunks]) {
        if (c.byteLength === 0) continue;
        this.#chunks.push(c);
        n += c.byteLength;
      }
      this.#bytes += n;
    }
    this.#ops.push(op, id, n);
    for (const s of strs) this.#strs.push(s);
    if (this.#ops.length >= this.limits.ops * 3 || this.#bytes >= this.limits.bytes) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      this.schedule(this.#flush);
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#ops.length === 0) return;
    const bytes = new Uint8Array(this.#bytes);
    let at = 0;
    for (const c of this.#chunks) {
      bytes.set(c, at);
      at += c.byteLength;
    }
    const ops = Int32Array.from(this.#ops);
    const batch = { ops, bytes: bytes.buffer, strs: this.#strs };
    this.#ops = [];
    this.#chunks = [];
    this.#bytes = 0;
    this.#strs = [];
    this.post(batch, [ops.buffer, bytes.buffer]);
  }
}

const NONE: readonly string[] = [];

/** Calls `each` per operation, with its payload (a view into the batch) for DATA and WRITE, and OPEN's strings. */
export function readBatch(
  batch: Batch,
  each: (op: number, id: number, n: number, payload: Buffer | undefined, strs: readonly string[]) => void,
): void {
  const { ops, bytes, strs } = batch;
  let at = 0;
  let s = 0;
  for (let i = 0; i < ops.length; i += 3) {
    const op = ops[i] as number;
    const n = ops[i + 2] as number;
    let payload: Buffer | undefined;
    if ((op === Op.DATA || op === Op.WRITE) && n > 0) {
      payload = Buffer.from(bytes, at, n);
      at += n;
    }
    let own = NONE;
    if (op === Op.OPEN) {
      own = strs.slice(s, s + 2);
      s += 2;
    }
    each(op, ops[i + 1] as number, n, payload, own);
  }
}
