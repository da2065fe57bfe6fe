/**
 * READ_FLASH (0xD2, stub): offset, length, packet size, packets in flight. After the
 * normal answer the stub sends the data as bare SLIP frames of `packet size` bytes,
 * never more than `in flight` packets ahead of the host's acks. Each ack is a bare
 * frame holding the byte count received so far (u32 LE). When everything is acked the
 * stub sends the MD5 of the data as a 16-byte frame (esptool `read_flash`; esptool-js
 * acks but leaves the digest to its next flushInput).
 */
import { createHash, type Hash } from 'node:crypto';
import type { CommandHandler, LinkSession, LoaderContext } from '../context.ts';
import { fail } from '../failure.ts';
import { words } from '../request.ts';

const MAX_PACKET = 0x4000;

class ReadFlashSession implements LinkSession {
  readonly #ctx: LoaderContext;
  readonly #offset: number;
  readonly #length: number;
  readonly #packet: number;
  readonly #window: number;
  readonly #md5: Hash = createHash('md5');
  #sent = 0;
  #acked = 0;

  constructor(ctx: LoaderContext, offset: number, length: number, packet: number, inFlight: number) {
    this.#ctx = ctx;
    this.#offset = offset;
    this.#length = length;
    this.#packet = packet;
    this.#window = inFlight * packet;
  }

  start(): void {
    this.#ctx.startSession(this);
    this.#pump();
  }

  frame(data: Buffer): boolean {
    if (data.length !== 4) {
      this.stop(); // not an ack: the host gave up on the read
      return false;
    }
    this.#acked = Math.max(this.#acked, Math.min(data.readUInt32LE(0), this.#sent));
    this.#pump();
    return true;
  }

  stop(): void {
    this.#ctx.endSession(this);
  }

  #pump(): void {
    while (this.#sent < this.#length && this.#sent - this.#acked < this.#window) {
      const n = Math.min(this.#packet, this.#length - this.#sent);
      const chunk = this.#ctx.flash.read(this.#offset + this.#sent, n);
      this.#md5.update(chunk);
      this.#sent += n;
      this.#ctx.sendFrame(chunk);
    }
    if (this.#acked >= this.#length) {
      this.#ctx.sendFrame(this.#md5.digest());
      this.stop();
    }
  }
}

export const readFlash: CommandHandler = (request, ctx) => {
  const [offset = 0, length = 0, packet = 0, inFlight = 0] = words(request, 4);
  if (packet === 0 || packet > MAX_PACKET) fail('bad-block-size', `packet size ${packet}`);
  if (inFlight === 0) fail('bad-parameter', 'no packets allowed in flight');
  if (offset + length > ctx.flash.size) fail('flash-read', 'past the end of the flash');
  const session = new ReadFlashSession(ctx, offset, length, packet, inFlight);
  return { after: () => session.start() };
};
