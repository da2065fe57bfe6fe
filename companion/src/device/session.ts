/**
 * One device connection. Owns its send queue policy, rate windows and timers.
 *
 * Send-queue policy: ws queues what the socket cannot take yet (bufferedAmount). A send
 * that would push it past `sendQueueBytes` is not queued: the session is closed with 1008
 * (send queue overflow). Nothing is lost by that: every sample the device has not seen
 * acknowledged is resent after it reconnects, and open commands are redelivered.
 */
import { CloseCode, type GatewayMessage } from '@kiln/protocol';
import type { WebSocket } from 'ws';
import type { HubContext } from './context.ts';

type Outgoing = GatewayMessage extends infer M ? (M extends { seq: number } ? Omit<M, 'seq'> : never) : never;

export class Session {
  bootId: string | undefined;
  /** Highest telemetry seq seen for this boot (seeded from the store at hello). */
  highestSeq = -1;
  ready = false;
  closed = false;
  /** Said hello and not closing: what an operator is shown as online (a closing one is not). */
  get online(): boolean {
    return this.ready && !this.closed;
  }
  lastSeenAt = Date.now();
  /** Ping/pong: set on pong, cleared on each ping round. */
  alive = true;
  #outSeq = 0;
  #windowStart = 0;
  #msgs = 0;
  #bytes = 0;
  readonly #helloTimer: NodeJS.Timeout;

  constructor(
    readonly ws: WebSocket,
    readonly deviceId: string,
    readonly remote: string,
    private readonly ctx: HubContext,
    /**
     * When its handshake began, before the device's key was read: a key rotated or a device
     * deleted after this ends the session (gateway.ts keyChanged), and a newer session on
     * another instance supersedes it.
     */
    readonly startedAt = Date.now(),
  ) {
    this.#helloTimer = setTimeout(() => {
      if (!this.ready) this.close(CloseCode.HELLO_TIMEOUT, 'no hello in time');
    }, ctx.config.limits.helloTimeoutMs);
    this.#helloTimer.unref();
    ws.on('pong', () => {
      this.alive = true;
    });
  }

  markReady(bootId: string, highestSeq: number): void {
    this.bootId = bootId;
    this.highestSeq = highestSeq;
    this.ready = true;
    clearTimeout(this.#helloTimer);
  }

  /** Counts one inbound frame against the per-device windows; false when it is over a limit. */
  admit(bytes: number, now = Date.now()): 'ok' | 'limited' | 'abusive' {
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#msgs = 0;
      this.#bytes = 0;
    }
    this.#msgs++;
    this.#bytes += bytes;
    const { messagesPerSecPerDevice: m, bytesPerSecPerDevice: b } = this.ctx.config.limits;
    if (this.#msgs > 2 * m || this.#bytes > 2 * b) return 'abusive';
    if (this.#msgs > m || this.#bytes > b) return 'limited';
    return 'ok';
  }

  send(msg: Outgoing): boolean {
    if (this.closed) return false;
    // The message's own JSON with seq appended: a spread copy of it cost ~0.7 µs more
    // (Outgoing has no seq of its own, and its JSON ends in `}`).
    const body = JSON.stringify(msg);
    return this.#sendText(msg.type, `${body.slice(0, -1)},"seq":${this.#outSeq}}`);
  }

  /** `{"type":"ack","acked":[…]}`, written out directly: the message sent most, once per sample at 1 sample per message. */
  sendAck(seqs: readonly number[]): boolean {
    if (this.closed) return false;
    return this.#sendText('ack', `{"type":"ack","acked":[${seqs.join(',')}],"seq":${this.#outSeq}}`);
  }

  #sendText(type: string, text: string): boolean {
    this.#outSeq = (this.#outSeq + 1) >>> 0;
    if (this.ws.bufferedAmount + text.length > this.ctx.config.limits.sendQueueBytes) {
      this.ctx.metrics.queueDrops.inc({ queue: 'send' });
      this.close(CloseCode.POLICY_VIOLATION, 'send queue overflow');
      return false;
    }
    this.ws.send(text);
    this.ctx.metrics.messageOut(type);
    return true;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.#helloTimer);
    this.ctx.metrics.closes.inc({ code: String(code) });
    this.ws.close(code, reason);
    // A peer that never answers the close handshake is cut after 5 s.
    setTimeout(() => this.ws.terminate(), 5_000).unref();
  }

  /** The socket is gone (closed by either side). */
  detach(): void {
    this.closed = true;
    clearTimeout(this.#helloTimer);
  }
}
