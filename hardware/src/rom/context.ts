/**
 * What a command handler sees of the chip while the loader runs, and what it answers.
 * Handlers are one file per command in commands/ (aedes' handlers/ layout); the
 * dispatcher in loader.ts turns their Reply into a response packet.
 */
import type { Chip } from '../chips/chip.ts';
import type { FlashChip } from '../flash/flash-chip.ts';
import type { FlashWriter } from './flash-writer.ts';
import type { Ram } from './ram.ts';
import type { RegisterFile } from './registers.ts';
import type { Request } from './request.ts';

/** An exchange that takes over the link after a reply (READ_FLASH's data and acks). */
export interface LinkSession {
  /** Offers a frame from the host; false hands it back to the dispatcher (and ends the session). */
  frame(data: Buffer): boolean;
  stop(): void;
}

export interface MemSession {
  size: number;
  blocks: number;
  blockSize: number;
  offset: number;
}

export interface LoaderContext {
  readonly chip: Chip;
  readonly flash: FlashChip;
  readonly registers: RegisterFile;
  readonly ram: Ram;
  /** True once the flasher stub runs: 2 status bytes, the stub command set and codes. */
  readonly stub: boolean;
  flashWriter: FlashWriter | undefined;
  mem: MemSession | undefined;
  /** Sends one frame as it is (SLIP-encoded, no response header). */
  sendFrame(data: Uint8Array): void;
  /** Switches the chip's UART to another baud rate. */
  setBaud(baud: number): void;
  /** Jumps to code loaded by MEM_DATA. */
  runRam(entry: number): void;
  /** Leaves the loader: `run` boots the app from flash, `reboot` resets the chip in software. */
  exit(how: 'run' | 'reboot'): void;
  /** Hands the link to a session until it ends. */
  startSession(session: LinkSession): void;
  endSession(session: LinkSession): void;
}

export interface Reply {
  /** The response's 32-bit value field (READ_REG's register, SYNC's 0x20120707). */
  value?: number;
  /** Bytes between the header and the status bytes. */
  data?: Uint8Array;
  /** How many identical responses to send (SYNC: 8). */
  repeat?: number;
  /** No response at all (RUN_USER_CODE). */
  silent?: boolean;
  /** Runs once the response is on the wire (a baud change, starting the stub). */
  after?: () => void;
  /**
   * Work done after the response (the stub writing a data block it has acknowledged):
   * the loader takes the next request only once it is done and the flash is idle,
   * while the UART keeps receiving.
   */
  postProcess?: () => Promise<void>;
}

export type CommandHandler = (request: Request, ctx: LoaderContext) => Reply | Promise<Reply>;
