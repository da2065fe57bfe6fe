/**
 * The serial loader a chip runs in download mode: SLIP frames in, one response per
 * request out (`01 op size:u16 value:u32 data status`), first as the ROM, then, once
 * MEM_END starts uploaded code, as the flasher stub. One dispatcher; one handler per
 * command in commands/. Requests are handled one at a time, in order; work a handler
 * leaves for after its response (the stub writing an acknowledged block) ends, and the
 * flash is idle, before the next request is taken, while the UART keeps receiving.
 *
 * Malformed input never stops it: a frame that is not a request is answered with
 * the "invalid message" status, bytes between frames are ignored, and oversized
 * frames are cut and answered the same way.
 */
import { ROM_INVALID_MESSAGE, ROM_LOADER_REQUEST, ROM_LOADER_RESPONSE } from '@kiln/protocol';
import type { Chip } from '../chips/chip.ts';
import type { FlashChip } from '../flash/flash-chip.ts';
import type { SpiNor } from '../flash/spi-nor.ts';
import { SlipDecoder, type SlipFrame, slipEncode } from '../slip.ts';
import { commandHandler } from './commands/index.ts';
import type { LinkSession, LoaderContext, MemSession, Reply } from './context.ts';
import { CommandFailure, failureStatus } from './failure.ts';
import type { FlashWriter } from './flash-writer.ts';
import { Ram } from './ram.ts';
import { RegisterFile } from './registers.ts';
import { isStubLaunch, STUB_GREETING_FRAME, statusByteCount, unsupportedAnswer } from './stub.ts';

/** Largest request: 8-byte header, 16-byte block header, 0x4000 bytes of data, with slack. */
export const MAX_REQUEST_BYTES = 8 + 16 + 0x4000 + 64;

export interface LoaderHost {
  readonly chip: Chip;
  readonly flash: FlashChip;
  readonly spiNor: SpiNor;
  /** Bytes onto the chip's UART TX line. */
  transmit(bytes: Buffer): void;
  setBaud(baud: number): void;
  uartBaud(): number;
  /** The loader leaves: the board boots the app (`run`) or resets in software (`reboot`). */
  exit(how: 'run' | 'reboot'): void;
  /** Waits while the flash is busy with what the last command erased or programmed (timing model). */
  flashBusy?(): Promise<void>;
  /** A bug in a handler (not a failure it reports): answered as "undefined error", then reported here. */
  internalError?(error: unknown): void;
}

export class RomLoader {
  readonly #host: LoaderHost;
  readonly #decoder = new SlipDecoder(MAX_REQUEST_BYTES);
  readonly #ctx: LoaderContext;
  #queue: Promise<void> = Promise.resolve();
  #stub = false;
  #stopped = false;
  /** Jumped into RAM that holds no code: nothing answers until a reset. */
  #hung = false;
  #session: LinkSession | undefined;

  constructor(host: LoaderHost) {
    this.#host = host;
    const ram = new Ram();
    const registers = new RegisterFile(
      host.chip,
      { bootMode: () => 'download', uartBaud: () => host.uartBaud() },
      ram,
      host.spiNor,
    );
    const loader = this;
    this.#ctx = {
      chip: host.chip,
      flash: host.flash,
      registers,
      ram,
      get stub() {
        return loader.#stub;
      },
      flashWriter: undefined as FlashWriter | undefined,
      mem: undefined as MemSession | undefined,
      sendFrame: (data) => this.#transmit(slipEncode(data)),
      setBaud: (baud) => host.setBaud(baud),
      runRam: (entry) => this.#runRam(entry),
      exit: (how) => {
        if (!this.#stopped) host.exit(how);
      },
      startSession: (session) => {
        this.#session = session;
      },
      endSession: (session) => {
        if (this.#session === session) this.#session = undefined;
      },
    };
  }

  /** Whether the flasher stub is running. */
  get stub(): boolean {
    return this.#stub;
  }

  /** Bytes from the host, off the chip's UART RX line. */
  receive(bytes: Uint8Array): void {
    if (this.#stopped || this.#hung) return;
    for (const frame of this.#decoder.push(bytes)) {
      this.#queue = this.#queue.then(() => this.#handle(frame)).catch((e) => this.#host.internalError?.(e));
    }
  }

  /** Resolves once every frame received so far has been answered. */
  settled(): Promise<void> {
    return this.#queue;
  }

  /** The chip left the loader (reset, reboot, app): abort whatever was under way. */
  stop(): void {
    this.#stopped = true;
    this.#session?.stop();
    this.#ctx.flashWriter?.abort();
    this.#ctx.flashWriter = undefined;
  }

  async #handle(frame: SlipFrame): Promise<void> {
    if (this.#stopped || this.#hung) return;
    const data = frame.data;
    if (!frame.error && this.#session?.frame(data)) return;
    const op = data[1] ?? 0;
    if (frame.error || data.length < 8 || data[0] !== ROM_LOADER_REQUEST || data.readUInt16LE(2) !== data.length - 8) {
      this.#respond(op, 0, undefined, this.#stub ? failureStatus('bad-length', true) : [1, ROM_INVALID_MESSAGE]);
      return;
    }
    const handler = commandHandler(op, this.#host.chip, this.#stub);
    if (!handler) {
      const answer = unsupportedAnswer(op, this.#stub);
      this.#respond(answer.op, 0, undefined, answer.status);
      return;
    }
    let reply: Reply;
    try {
      reply = await handler({ op, checksum: data.readUInt32LE(4), data: data.subarray(8) }, this.#ctx);
    } catch (e) {
      if (this.#stopped) return;
      if (e instanceof CommandFailure) {
        this.#respond(op, 0, undefined, failureStatus(e.kind, this.#stub));
      } else {
        this.#respond(op, 0, undefined, this.#stub ? [0xff, 0] : [1, 0]);
        this.#host.internalError?.(e);
      }
      return;
    }
    if (this.#stopped) return;
    await this.#host.flashBusy?.();
    if (this.#stopped) return;
    if (!reply.silent) this.#respond(op, reply.value ?? 0, reply.data, [0, 0], reply.repeat ?? 1);
    reply.after?.();
    if (!reply.postProcess) return;
    await reply.postProcess();
    if (this.#stopped) return;
    await this.#host.flashBusy?.();
  }

  #respond(op: number, value: number, data: Uint8Array | undefined, status: [number, number], repeat = 1): void {
    const statusBytes = statusByteCount(this.#stub);
    const body = data ?? new Uint8Array(0);
    const packet = Buffer.alloc(8 + body.length + statusBytes);
    packet[0] = ROM_LOADER_RESPONSE;
    packet[1] = op;
    packet.writeUInt16LE(body.length + statusBytes, 2);
    packet.writeUInt32LE(value >>> 0, 4);
    packet.set(body, 8);
    packet[8 + body.length] = status[0];
    packet[9 + body.length] = status[1];
    const frame = slipEncode(packet);
    this.#transmit(repeat === 1 ? frame : Buffer.concat(new Array(repeat).fill(frame)));
  }

  #transmit(bytes: Buffer): void {
    if (!this.#stopped) this.#host.transmit(bytes);
  }

  #runRam(entry: number): void {
    if (!isStubLaunch(this.#ctx.ram, entry)) {
      this.#hung = true;
      return;
    }
    this.#stub = true;
    this.#ctx.mem = undefined;
    this.#transmit(slipEncode(STUB_GREETING_FRAME));
  }
}
