import type { Socket } from 'node:net';

/**
 * Ends an MQTT connection whose next packet would be larger than `maxBytes`. Neither aedes nor
 * mqtt-packet bounds a packet (MQTT 3.1.1 allows 256 MB), and the parser holds every byte of
 * one until it is complete: a client that declares a huge CONNECT and keeps sending, before
 * it has logged in, held that much of the gateway's memory per connection.
 *
 * Only the fixed headers are read (type byte, then the remaining length, 1 to 4 bytes of 7
 * bits [MQTT-2.2.3]); the rest of each packet is skipped by count, on the chunks aedes reads
 * itself (it calls `read()` on 'readable'), so nothing is copied. Written by hand: no MQTT
 * library offers a size limit on a broker's connections.
 */
export class PacketBound {
  /** Bytes of the current packet still to pass; in its header while 0. */
  #skip = 0;
  /** In the remaining-length field, and how far into it. */
  #inLength = false;
  #length = 0;
  #multiplier = 1;
  #lengthBytes = 0;

  readonly #maxBytes: number;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Reads `chunk`; false once a packet's declared length is past maxBytes. */
  scan(chunk: Uint8Array): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, chunk.length - i);
        this.#skip -= take;
        i += take;
        continue;
      }
      if (!this.#inLength) {
        i++; // the type and flags byte
        this.#inLength = true;
        this.#length = 0;
        this.#multiplier = 1;
        this.#lengthBytes = 0;
        continue;
      }
      const b = chunk[i++] as number;
      this.#length += (b & 0x7f) * this.#multiplier;
      this.#multiplier *= 128;
      this.#lengthBytes++;
      if (this.#length > this.#maxBytes) return false;
      if ((b & 0x80) !== 0 && this.#lengthBytes < 4) continue;
      // Done (or malformed past 4 bytes, which the parser refuses itself).
      this.#inLength = false;
      this.#skip = this.#length;
    }
    return true;
  }
}

/** Applies a PacketBound to what aedes reads from `socket`; `tooLarge` is told before it is destroyed. */
export function boundPackets(socket: Socket, maxBytes: number, tooLarge: () => void): void {
  const bound = new PacketBound(maxBytes);
  const read = socket.read;
  socket.read = function (this: Socket, size?: number) {
    const chunk = read.call(this, size) as Buffer | string | null;
    if (chunk !== null && typeof chunk !== 'string' && !bound.scan(chunk)) {
      tooLarge();
      socket.destroy();
      return null;
    }
    return chunk;
  } as typeof socket.read;
}
