/**
 * ws' Receiver keeps a message's fragments in an array it replaces after every message
 * (`this._fragments = []`), and it leaves the old array holding the message it was given.
 * That is harmless for a chatty socket, and costly for a fleet.
 *
 * A device sends a message every few hundred ms, so the empty array ws makes after one
 * message outlives two minor collections before the next one fills it. V8 then promotes
 * it to the old generation. The next message is pushed into that old array, and ws then
 * drops it. The array is dead, but only a major collection can know that. Until then it
 * keeps everything it points at alive through every minor collection: its elements, the
 * message's Buffer, and that Buffer's ArrayBuffer. All of these are promoted too.
 *
 * At 10,000 devices and 20,000 messages/s this was about 280 bytes of old generation per
 * message, plus the payload's backing store: three quarters of what the old generation
 * grew by. It brought a major collection every 10–20 s, and with it the tail latency
 * (docs/ARCHITECTURE.md, "Memory and major collections").
 *
 * The remedy is to empty the array once ws has taken the message out of it, and to keep
 * that one array for the next message. A receiver then makes no array that outlives a
 * message, and the one it keeps points at nothing young between messages. ws exports
 * Receiver but has no option for this, so its dataMessage is wrapped here. The shape it
 * relies on is checked first, and `receiver-fragments.test.ts` fails if a ws release
 * changes it.
 */
import type { Writable } from 'node:stream';
import * as ws from 'ws';

/** ws exports its Receiver (index.js, wrapper.mjs), but @types/ws does not declare it. */
export const Receiver = (ws as unknown as { Receiver: ReceiverConstructor }).Receiver;

interface ReceiverConstructor {
  new (options?: { isServer?: boolean; binaryType?: 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob' }): Writable;
  readonly prototype: object;
}

/** The private parts of ws' Receiver this wrapper reads, and nothing more. */
interface ReceiverInternals {
  _fragments: unknown[];
  _binaryType: string;
  dataMessage(cb: (err?: Error) => void): void;
}

const WRAPPED = Symbol.for('kiln.receiverFragmentsReleased');

type ReceiverPrototype = ReceiverInternals & { [WRAPPED]?: true };

/** True when ws' Receiver still has the shape the wrapper relies on. */
export function receiverShapeKnown(): boolean {
  const proto = Receiver.prototype as unknown as Partial<ReceiverInternals>;
  if (typeof proto.dataMessage !== 'function') return false;
  const probe = new Receiver() as unknown as Partial<ReceiverInternals>;
  return Array.isArray(probe._fragments) && typeof probe._binaryType === 'string';
}

/**
 * Wraps ws' Receiver.dataMessage once per process, so the array a message came in is
 * emptied after ws has taken the message out of it, and kept for the next message.
 * Returns false, and changes nothing, when ws' Receiver no longer has the shape this
 * relies on.
 */
export function releaseFragmentsAfterMessage(): boolean {
  const proto = Receiver.prototype as unknown as ReceiverPrototype;
  if (proto[WRAPPED]) return true;
  if (!receiverShapeKnown()) return false;
  const dataMessage = proto.dataMessage;
  proto.dataMessage = function (this: ReceiverInternals, cb) {
    const fragments = this._fragments;
    // binaryType 'fragments' hands this very array to the application: leave it alone.
    const handedOver = this._binaryType === 'fragments';
    dataMessage.call(this, cb);
    // ws replaces the array only once it has read the whole message out of it (a message
    // still waiting for its final fragment keeps the same array).
    if (handedOver || this._fragments === fragments) return;
    fragments.length = 0;
    // Keep the emptied array: the fresh one ws made would be the next to outlive two minor
    // collections (32 bytes a message, promoted). Only while ws has put nothing in it yet.
    if (this._fragments.length === 0) this._fragments = fragments;
  };
  proto[WRAPPED] = true;
  return true;
}
