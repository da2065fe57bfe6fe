/**
 * A connection of the TLS front as the event loop sees it: a Duplex of plaintext that
 * Node's http server, express and ws take as their socket (they need no more of net.Socket
 * than is here). Bytes go to the front's thread in batches. While the thread says the peer
 * is not taking them (its TLS socket is past its high-water mark), writes are held here, so
 * `writableLength`, and with it ws' bufferedAmount, which the send-queue policies read,
 * grows as it would on a socket whose peer stopped reading.
 */
import { Duplex } from 'node:stream';
import { Op } from './batch.ts';

/** What a socket needs of its front. */
export interface FrontLink {
  add(op: number, id: number, n?: number, chunks?: Uint8Array | readonly Uint8Array[]): void;
  /** False when the front no longer knows the connection (already closed there). */
  forget(id: number): boolean;
}

export class FrontSocket extends Duplex {
  readonly encrypted = true;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily: string;
  #blocked = false;
  #held: ((e?: Error | null) => void) | undefined;
  #paused = false;
  #timeoutMs = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly link: FrontLink,
    readonly id: number,
    remote: { address: string; port: number; family: string },
    readonly localAddress: string,
    readonly localPort: number,
  ) {
    super({ allowHalfOpen: false });
    this.remoteAddress = remote.address;
    this.remotePort = remote.port;
    this.remoteFamily = remote.family;
  }

  /** Plaintext from the peer. */
  received(chunk: Buffer): void {
    this.#timer?.refresh();
    if (!this.push(chunk) && !this.#paused) {
      this.#paused = true;
      this.link.add(Op.PAUSE, this.id);
    }
  }

  /** The peer stopped taking what is written, or took it all again. */
  blocked(on: boolean): void {
    this.#blocked = on;
    this.#release();
  }

  /** The peer ended its side. */
  peerEnded(): void {
    this.push(null);
  }

  /** The connection is gone on the thread's side. */
  gone(): void {
    this.link.forget(this.id);
    this.destroy();
  }

  override _read(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.link.add(Op.RESUME, this.id);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.#send(chunk);
    this.#hold(cb);
  }

  // One operation, so the thread writes one TLS record and makes one send: ws writes a frame
  // as its header and its payload.
  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    this.#send(chunks.map((c) => c.chunk));
    this.#hold(cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.link.add(Op.SHUT, this.id);
    cb();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    clearTimeout(this.#timer);
    if (this.link.forget(this.id)) this.link.add(Op.DESTROY, this.id);
    const held = this.#held;
    this.#held = undefined;
    held?.(err);
    cb(err);
  }

  /** As net.Socket's: 'timeout' after ms without bytes either way; 0 turns it off. */
  setTimeout(ms: number, cb?: () => void): this {
    if (cb) {
      if (ms === 0) this.off('timeout', cb);
      else this.once('timeout', cb);
    }
    this.#timeoutMs = ms;
    clearTimeout(this.#timer);
    this.#timer = ms > 0 ? setTimeout(() => this.emit('timeout'), ms).unref() : undefined;
    return this;
  }

  get timeout(): number {
    return this.#timeoutMs;
  }

  // The thread sets TCP_NODELAY on every connection; keep-alive probes are not used.
  setNoDelay(_on?: boolean): this {
    return this;
  }
  setKeepAlive(_on?: boolean, _delay?: number): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: this.remoteFamily, port: this.localPort };
  }

  #send(chunks: Buffer | Buffer[]): void {
    this.#timer?.refresh();
    this.link.add(Op.WRITE, this.id, 0, chunks);
  }

  #hold(cb: (e?: Error | null) => void): void {
    this.#held = cb;
    this.#release();
  }

  #release(): void {
    if (!this.#held || this.#blocked) return;
    const cb = this.#held;
    this.#held = undefined;
    cb();
  }
}
