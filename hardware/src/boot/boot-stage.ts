/**
 * What runs after the ROM when the chip boots from flash. The ROM prints its reset
 * and boot lines, then hands over to a boot stage: by default firmware-boot.ts (the
 * ROM's load, the second-stage bootloader, the app); idleBootStage stays silent.
 */
import type { Chip } from '../chips/chip.ts';
import type { FlashChip } from '../flash/flash-chip.ts';
import type { AppState } from './firmware-boot.ts';
import type { StopHow } from './host-app.ts';

export interface BootContext {
  readonly chip: Chip;
  readonly flash: FlashChip;
  /** Text or bytes onto the chip's UART TX. */
  write(data: string | Uint8Array): void;
  /** Sets the chip's UART rate (an app that reconfigures its console). */
  setBaud(baud: number): void;
  /** A software reset (the bootloader's `bootloader_reset`): the chip boots again. */
  restart?(): void;
  /** Tells the board what runs now (board.app, and an 'app' event). */
  report?(state: AppState): void;
  /** The file a host build keeps the NVS partition at this offset in. */
  nvsFile?(partitionOffset: number): string;
}

/**
 * A running stage: it gets the chip's UART RX and is stopped by the next reset
 * (`reset`: at once, as EN going low stops a chip) or when the board is closed
 * (`shutdown`: its process may exit cleanly). A stage with a process returns a
 * promise that resolves once that process has exited; the board starts no other
 * stage before it has.
 */
export interface RunningStage {
  receive?(data: Buffer): void;
  stop(how?: StopHow): void | Promise<void>;
}

export interface BootStage {
  start(ctx: BootContext): RunningStage;
}

/** Prints nothing more and ignores input. */
export const idleBootStage: BootStage = {
  start: () => ({ stop: () => {} }),
};
